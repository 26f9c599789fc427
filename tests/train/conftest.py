"""Shared data of the train tests: scikit-learn's digits as small RGB images."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

CLASSES = tuple(str(d) for d in range(10))


def digits_rgb(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The 1797 digits (8x8, values 0-16) as uint8 RGB ``(N, size, size, 3)``,
    upsampled by pixel repetition, and their labels."""
    digits = load_digits()
    grey = (digits.images * (255 / 16)).round().astype(np.uint8)
    factor = size // 8
    grey = grey.repeat(factor, axis=1).repeat(factor, axis=2)
    return np.repeat(grey[..., None], 3, axis=-1), digits.target.astype(np.int64)


def _split(size: int) -> tuple[tuple, tuple]:
    X, y = digits_rgb(size)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0)
    return (X_train, y_train, CLASSES), (X_test, y_test, CLASSES)


@pytest.fixture(scope="session")
def digits16() -> tuple[tuple, tuple]:
    """``(train, test)`` ``(X, y, classes)`` tuples of 16x16 digits, 70/30 stratified."""
    return _split(16)


@pytest.fixture(scope="session")
def digits32() -> tuple[tuple, tuple]:
    """``(train, test)`` ``(X, y, classes)`` tuples of 32x32 digits, 70/30 stratified."""
    return _split(32)
