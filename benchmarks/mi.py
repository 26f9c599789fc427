"""MI speed: spinml's mutual_information against the SpinML artifact's double loop
and against a bare np.bincount floor, on 512 x 512 RGB pairs.

    .venv/bin/python benchmarks/mi.py

Targets: >= 20x faster than the loop, within 2x of the floor.
"""

from __future__ import annotations

import time

import numpy as np

from spinml.data import photos
from spinml.evaluate import letterbox, mutual_information
from spinml.sanitize import Canny, segment_on_black


def double_loop_mi(a: np.ndarray, b: np.ndarray, bins: int = 256) -> float:
    """The artifact's computation, as written there: np.histogram2d, then a Python
    loop over all bins with ``np.log`` on each non-empty one."""
    joint, _, _ = np.histogram2d(a.ravel(), b.ravel(), bins=bins)
    p = joint / joint.sum()
    p_a, p_b = p.sum(axis=1), p.sum(axis=0)
    total = 0.0
    for i in range(bins):
        for j in range(bins):
            if p[i, j] > 0:
                total += p[i, j] * np.log(p[i, j] / (p_a[i] * p_b[j]))
    return total


def bincount_floor(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The least work any 256 x 256 joint histogram of uint8 pixels needs: one bincount."""
    return np.bincount((a.ravel().astype(np.uint16) << 8) | b.ravel(), minlength=65536)


def best_time(fn, *args, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    pairs = []
    for ref in photos():
        segment = segment_on_black(ref.image, ref.mask("target"))
        edges = np.repeat(Canny()(segment)[:, :, None], 3, axis=2)
        pairs.append((ref.name, letterbox(segment), letterbox(ref.image)))
        pairs.append((ref.name + " canny", letterbox(edges), letterbox(segment)))
    print(f"{'pair (512x512x3)':28s} {'loop ms':>9s} {'spinml ms':>10s} {'floor ms':>9s} "
          f"{'loop/spinml':>12s} {'spinml/floor':>13s} {'|diff|':>9s}")
    ratios_loop, ratios_floor = [], []
    for name, a, b in pairs:
        t_loop = best_time(double_loop_mi, a, b, repeat=1)
        t_ours = best_time(mutual_information, a, b, repeat=20)
        t_floor = best_time(bincount_floor, a, b, repeat=20)
        diff = abs(double_loop_mi(a, b) - mutual_information(a, b))
        ratios_loop.append(t_loop / t_ours)
        ratios_floor.append(t_ours / t_floor)
        print(f"{name:28s} {1e3 * t_loop:9.1f} {1e3 * t_ours:10.2f} {1e3 * t_floor:9.2f} "
              f"{t_loop / t_ours:12.0f} {t_ours / t_floor:13.2f} {diff:9.1e}")
    print(f"\nmedian: {np.median(ratios_loop):.0f}x faster than the loop (target >= 20x), "
          f"{np.median(ratios_floor):.2f}x the bincount floor (target <= 2x)")


if __name__ == "__main__":
    main()
