"""The on-device table: torch eager, ONNX fp32 and int8, one row each, and the latency timer."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from spinml.evaluate.device import DEVICE_COLUMNS, device_table, median_latency_ms
from spinml.train import Trainer
from tests.train.conftest import digits_rgb
from tests.train.test_export import _small_net


def test_median_latency_counts_each_call_after_the_warm_up() -> None:
    calls = []

    def slow(image: np.ndarray) -> None:
        calls.append(image.shape)
        time.sleep(0.002)

    latency = median_latency_ms(slow, np.zeros((3, 4, 4, 3), np.uint8), runs=20)
    assert 2.0 <= latency < 50.0
    assert len(calls) == 30 and set(calls) == {(1, 4, 4, 3)}
    with pytest.raises(ValueError, match="runs must be >= 1"):
        median_latency_ms(slow, np.zeros((1, 4, 4, 3), np.uint8), runs=0)


def test_device_table(tmp_path: Path) -> None:
    X, y = digits_rgb(16)
    classes = tuple(str(d) for d in range(10))
    model = Trainer(_small_net(), epochs=2, augment=False, batch_size=32, seed=0,
                    progress=False).fit((X[:600], y[:600], classes))
    test = (X[600:900], y[600:900], classes)
    table = device_table(model, X[-64:], test, folder=tmp_path, runs=5)
    assert tuple(table.columns) == DEVICE_COLUMNS
    assert list(table.runtime) == ["torch eager", "onnxruntime", "onnxruntime"]
    assert list(table.precision) == ["fp32", "fp32", "int8"]
    assert (table.latency_ms > 0).all() and table.speedup.iloc[0] == 1.0
    assert table.size_kB.iloc[2] < table.size_kB.iloc[1]
    assert table.accuracy.iloc[0] == pytest.approx(model.score(test))
    assert table.accuracy.iloc[1] == pytest.approx(model.score(test))
    assert {p.name for p in tmp_path.iterdir()} == {"torch", "model.onnx", "model_int8.onnx"}
