"""Command line: ``spinml demo``."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from spinml.demo import device_demo

    folder, table = device_demo(args.out, args.policy, progress=not args.quiet)
    print(f"upload folder (what leaves the device under '{args.policy}'): {folder}")
    print("\nnormalised MI leakage, MI(upload, segment) / H(image), mean over images:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spinml", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run the demo on the bundled data")
    demo.add_argument("--out", default="reports/demo-upload", help="upload folder to write")
    demo.add_argument("--policy", default="target=L2,background=L1", help="sharing policy")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, PermissionError, FileExistsError) as err:
        print(f"spinml {args.command}: error: {err}", file=sys.stderr)
        return 2
