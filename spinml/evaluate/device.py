"""The specialised model on the device: size, latency and accuracy of each format.

:func:`device_table` exports a trained model to fp32 and int8 ONNX
(:mod:`spinml.train.export`) and measures, next to the same network in torch
eager mode, in one process:

- ``size_kB``: the file a device stores, in kB (1000 bytes): the safetensors
  weights for torch, the ``.onnx`` file otherwise;
- ``latency_ms``: the median over ``runs`` single-image calls (batch 1,
  ``threads`` threads, after 10 warm-up calls) of the wall time from uint8
  image to probabilities, preprocessing included, in milliseconds; images
  cycle through the test set;
- ``speedup``: torch eager's latency over this row's;
- ``accuracy``: the fraction of the test set classified correctly.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from spinml.seeding import torch_threads
from spinml.train import TrainedModel
from spinml.train.export import OnnxModel, torch_graph

__all__ = ["DEVICE_COLUMNS", "median_latency_ms", "device_table"]

DEVICE_COLUMNS = ("runtime", "format", "precision", "size_kB", "latency_ms", "speedup",
                  "accuracy")
_WARMUP = 10


def median_latency_ms(predict: Callable[[np.ndarray], object], images: np.ndarray,
                      runs: int = 200) -> float:
    """Median wall time in ms of ``predict(images[i % N][None])`` over ``runs`` calls,
    after :data:`_WARMUP` calls that are not counted."""
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    times = []
    for i in range(_WARMUP + runs):
        image = images[i % len(images)][None]
        start = time.perf_counter()
        predict(image)
        times.append(time.perf_counter() - start)
    return float(np.median(times[_WARMUP:]) * 1e3)


def device_table(model: TrainedModel, calibration, test, *, folder: str | Path | None = None,
                 runs: int = 200, threads: int = 1) -> pd.DataFrame:
    """Torch eager (fp32), ONNX fp32 and ONNX int8 of ``model``, one row each
    (columns :data:`DEVICE_COLUMNS`, see the module docstring).

    ``calibration``: the images the int8 ranges are calibrated on (the user's
    unlabelled references); ``test``: a labelled data set for accuracy and
    latency. The files go to ``folder`` (``model.safetensors``, ``model.onnx``,
    ``model_int8.onnx``, replaced if present) or to a temporary folder.
    """
    from spinml.train.export import _images, trained_model

    model = trained_model(model)
    X_test = _images(test, "test")
    with contextlib.ExitStack() as stack:
        where = Path(folder) if folder is not None else Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="spinml-device-")))
        where.mkdir(parents=True, exist_ok=True)
        saved = model.save(where / "torch", overwrite=True)
        fp32 = model.export(where / "model.onnx", overwrite=True)
        int8 = model.export(where / "model_int8.onnx", format="onnx-int8",
                            calibration=calibration, overwrite=True)
        graph = torch_graph(model)
        with torch_threads(threads), torch.inference_mode():
            torch_latency = median_latency_ms(lambda x: graph(torch.from_numpy(x)), X_test, runs)
        rows = [("torch eager", "safetensors", "fp32",
                 (saved / "model.safetensors").stat().st_size, torch_latency, model.score(test))]
        for path, precision in ((fp32, "fp32"), (int8, "int8")):
            onnx_model = OnnxModel(path, threads=threads)
            rows.append(("onnxruntime", "onnx", precision, onnx_model.size_bytes,
                         median_latency_ms(onnx_model.run, X_test, runs), onnx_model.score(test)))
    frame = pd.DataFrame(rows, columns=["runtime", "format", "precision", "size_kB",
                                        "latency_ms", "accuracy"])
    frame["size_kB"] = frame["size_kB"] / 1000
    frame["speedup"] = torch_latency / frame["latency_ms"]
    return frame[list(DEVICE_COLUMNS)]
