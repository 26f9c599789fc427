"""Command line: ``spinml device-demo``, ``spinml report``, ``spinml zoo build``.

``spinml device-demo`` is the device side alone (sanitise the bundled photos, write the
upload, print the leakage; seconds). ``make demo`` is the main job: the privacy-utility
report, ``spinml report notebooks/02_privacy_utility_report.ipynb``. ``spinml demo`` is
the device demo's old name, kept with a warning until spinml 0.3.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from spinml.demo import device_demo

    if args.command == "demo":
        print("spinml: `spinml demo` is now `spinml device-demo` (`make demo` runs the main "
              "report); the old name goes in spinml 0.3", file=sys.stderr)
    folder, table = device_demo(args.out, args.policy, progress=not args.quiet)
    print(f"upload folder (what leaves the device under '{args.policy}'): {folder}")
    print("\nnormalised MI leakage, MI(upload, segment) / H(image), mean over images:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def _report(args: argparse.Namespace) -> int:
    from spinml.notebook_report import ReportFailed, parse_parameters, run_report

    if not Path(args.notebook).is_file():
        raise FileNotFoundError(f"notebook {args.notebook} does not exist")
    pairs = args.parameters + ([("workers", str(args.workers))] if args.workers is not None
                               else [])
    parameters = parse_parameters(args.notebook, pairs)
    try:
        html = run_report(args.notebook, parameters, out=args.out, progress=not args.quiet)
    except ReportFailed as err:
        print(f"spinml report: {err}", file=sys.stderr)
        return 1
    print(html)
    return 0


def _zoo_build(args: argparse.Namespace) -> int:
    from spinml.zoo import ZOO_DIR, BackboneConfig, ZooConfig, build, build_backbone

    args.out = args.out or ZOO_DIR
    if args.only == "all":
        config = ZooConfig.tiny(seed=args.seed) if args.tiny else ZooConfig(seed=args.seed)
        manifest = build(args.out, config=config, work=args.work, device=args.device,
                         progress=not args.quiet)
        print(f"zoo written to {args.out}: {len(manifest['files'])} files, "
              f"{manifest['metrics']['build_seconds_total']:.0f} s of training in all")
    backbone = BackboneConfig.tiny(seed=args.seed) if args.tiny else BackboneConfig(seed=args.seed)
    manifest = build_backbone(args.out, config=backbone, work=args.work, progress=not args.quiet)
    print(f"backbone written to {args.out}: "
          f"{manifest['backbone']['metrics']['seconds']:.0f} s of training")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spinml", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "device-demo", aliases=["demo"],
        help="the device side on the bundled photos: sanitise, save the upload, print the leakage")
    demo.add_argument("--out", default="reports/demo-upload", help="upload folder to write")
    demo.add_argument("--policy", default="target=L2,background=L1", help="sharing policy")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)
    report = commands.add_parser(
        "report", help="run a notebook headless (papermill) and render it (nbconvert)")
    report.add_argument("notebook", help="the .ipynb file to run")
    report.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append",
                        default=[], metavar=("NAME", "VALUE"),
                        help="a parameter of the notebook (repeatable); text where its "
                             "default is a string, else read as papermill's -p: True/False, "
                             "None, int, float, else str")
    report.add_argument("--out", default=None, help="parent of the report folder (reports/)")
    report.add_argument("--workers", type=int, default=None,
                        help="the notebook's workers parameter: parallel runs of its sweeps "
                             "(0: cores // threads, 1: in the kernel's process)")
    report.add_argument("--quiet", action="store_true", help="no progress bar")
    report.set_defaults(run=_report)
    zoo = commands.add_parser("zoo", help="the bundled models").add_subparsers(
        dest="zoo_command", required=True)
    zoo_build = zoo.add_parser("build", help="retrain the zoo from the public mini-world")
    zoo_build.add_argument("--out", default=None, help="zoo folder (default: the installed one)")
    zoo_build.add_argument("--work", default=".zoo-build",
                           help="checkpoints and data; an interrupted build resumes from it")
    zoo_build.add_argument("--seed", type=int, default=0)
    zoo_build.add_argument("--tiny", action="store_true", help="a seconds-long smoke build")
    zoo_build.add_argument("--device", default=None, help="cpu (default, deterministic) or cuda")
    zoo_build.add_argument("--quiet", action="store_true", help="no progress bars")
    zoo_build.add_argument("--only", choices=("all", "backbone"), default="all",
                           help="backbone: train only the classifier backbone (minutes); the "
                                "diffusion parts' files stay as they are")
    zoo_build.set_defaults(run=_zoo_build)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, PermissionError, FileExistsError) as err:
        print(f"spinml {args.command}: error: {err}", file=sys.stderr)
        return 2
