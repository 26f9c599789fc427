"""edge_f1 against a hand-made example whose precision, recall and F1 are counted by hand."""

import numpy as np
import pytest

from spinml.evaluate import edge_f1


def maps() -> tuple[np.ndarray, np.ndarray]:
    """R: column 2, rows 0-4 (5 pixels). E: rows 0-2 of column 2 (on R), rows 3-4 of
    column 3 (one pixel right of R) and (5, 5) (three columns from R): 6 pixels."""
    reference = np.zeros((6, 6), np.uint8)
    reference[0:5, 2] = 255
    edges = np.zeros((6, 6), np.uint8)
    edges[0:3, 2] = 255
    edges[3:5, 3] = 255
    edges[5, 5] = 255
    return reference, edges


def test_exact_pixels():
    # P = |E & R| / |E| = 3/6, R_c = |R & E| / |R| = 3/5, F1 = 2 * 0.5 * 0.6 / 1.1 = 6/11
    reference, edges = maps()
    assert edge_f1(reference, edges, tolerance=0) == pytest.approx(6 / 11, abs=1e-12)


def test_one_pixel_tolerance():
    # within 1 px of R: the 3 exact and the 2 shifted pixels, not (5, 5): P = 5/6;
    # every pixel of R is within 1 px of E: R_c = 1; F1 = 2 (5/6) / (11/6) = 10/11
    reference, edges = maps()
    assert edge_f1(reference, edges, tolerance=1) == pytest.approx(10 / 11, abs=1e-12)
    assert edge_f1(reference, edges) == edge_f1(reference, edges, tolerance=1)


def test_f1_is_symmetric_and_any_nonzero_value_is_an_edge():
    reference, edges = maps()
    for t in (0, 1, 3):
        assert edge_f1(edges, reference, t) == pytest.approx(edge_f1(reference, edges, t))
    assert edge_f1(reference > 0, (edges > 0) * 7, tolerance=0) == pytest.approx(6 / 11)
    assert edge_f1(reference, edges, tolerance=3) == 1.0       # (5, 5) is 3 px from (4, 2)


def test_empty_maps_and_bad_input():
    reference, _ = maps()
    empty = np.zeros_like(reference)
    assert edge_f1(empty, empty) == 1.0
    assert edge_f1(reference, empty) == 0.0 and edge_f1(empty, reference) == 0.0
    far = np.zeros((6, 6), np.uint8)
    far[5, 5] = 1
    assert edge_f1(reference, far, tolerance=1) == 0.0
    with pytest.raises(ValueError, match="differ in size"):
        edge_f1(reference, np.zeros((6, 5)))
    with pytest.raises(ValueError, match="tolerance"):
        edge_f1(reference, reference, tolerance=-1)
