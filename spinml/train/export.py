"""The specialised model on the device: ONNX export, int8 quantisation, the runtime.

The exported graph takes what a camera gives and returns what an app shows::

    input  "images":        uint8 (N, H, W, 3) RGB at the training size, N free
    inside                  x = images (as N, 3, H, W) / 127.5 - 1, the network's logits z
    output "probabilities": float32 (N, C), softmax(z), columns in the order of the classes

so a device needs no preprocessing code of its own. The file's ``metadata_props``
record the format, opset, input and output names and layout, the classes (JSON
list), the image size and the architecture. At export, onnxruntime's
probabilities are compared with torch's on random images: the export fails
unless they differ by at most :data:`TOLERANCE` everywhere.

Int8 (:func:`quantize_onnx`): onnxruntime's static post-training quantisation
(QDQ format, int8 weights per output channel, uint8 activations, MinMax
ranges) calibrated on the user's own unlabelled reference images, so nothing
beyond what is already on the device is read.

    model.export("model.onnx")                                   # fp32
    model.export("model_int8.onnx", format="onnx-int8", calibration=references)
    OnnxModel("model_int8.onnx").score(test)                     # accuracy on the device
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from spinml.estimator import NotFittedError
from spinml.image import to_unit_range
from spinml.io import atomic_write_bytes, library_versions

if TYPE_CHECKING:
    import onnx

    from spinml.train.trainer import Data, TrainedModel

__all__ = ["FORMATS", "OPSET", "TOLERANCE", "DeviceGraph", "export_onnx", "quantize_onnx",
           "OnnxModel", "torch_graph", "check_target", "trained_model"]

FORMATS = ("onnx", "onnx-int8")
"""Formats of :meth:`TrainedModel.export`."""
OPSET = 18
"""ONNX opset of the exported graph (onnxruntime >= 1.14, ONNX Runtime Mobile included)."""
TOLERANCE = 1e-4
"""Largest allowed difference between onnxruntime's and torch's probabilities at export."""
INPUT, OUTPUT = "images", "probabilities"
_FORMAT = "spinml.onnx_classifier"
_CHECK_IMAGES = 16


class DeviceGraph(nn.Module):
    """``module`` with its preprocessing and softmax: uint8 ``(N, H, W, 3)`` images
    -> probabilities ``(N, C)`` (:func:`spinml.image.to_unit_range` inside)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.module(to_unit_range(images.permute(0, 3, 1, 2))), dim=1)


def trained_model(model: Any) -> TrainedModel:
    """The :class:`TrainedModel` of ``model`` (itself, or a fitted Trainer's ``model_``)."""
    from spinml.train.trainer import TrainedModel, Trainer

    if isinstance(model, TrainedModel):
        return model
    if isinstance(model, Trainer):
        if not hasattr(model, "model_"):
            raise NotFittedError("cannot export an untrained model: this Trainer is not "
                                 "fitted (call fit() first)")
        return model.model_
    raise TypeError(f"model must be a TrainedModel or a fitted Trainer, "
                    f"got {type(model).__name__}")


def check_target(path: str | Path, overwrite: bool) -> Path:
    """``path`` as a Path, checked before any work: an ``.onnx`` file name whose
    folder is (or can be created as) a writable folder, and no existing file unless
    ``overwrite``."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {type(path).__name__}")
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"path {path} must end in .onnx")
    if path.is_dir():
        raise IsADirectoryError(f"path {path} is a folder; expected an .onnx file name")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists (pass overwrite=True)")
    ancestor = path.parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise NotADirectoryError(f"cannot write {path}: {ancestor} is a file, not a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot write {path}: folder {ancestor} is not writable")
    return path


def _write(path: Path, data: bytes) -> None:
    try:
        atomic_write_bytes(path, data)
    except OSError as err:
        raise PermissionError(f"cannot write {path}: {err.strerror or err}") from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's and the quantiser's log lines (e.g. torchvision absent)."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "root", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def _session(model: bytes | str | Path, threads: int | None = None):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    source = model if isinstance(model, bytes) else str(model)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def _set_metadata(proto: onnx.ModelProto, entries: dict[str, Any]) -> None:
    """Add or replace ``entries`` in ``proto.metadata_props`` (values as strings, non-strings
    as JSON)."""
    current = {p.key: p.value for p in proto.metadata_props}
    current.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in entries.items()})
    del proto.metadata_props[:]
    for key, value in current.items():
        proto.metadata_props.add(key=key, value=value)


def export_onnx(model: TrainedModel, path: str | Path, *, overwrite: bool = False,
                seed: int = 0) -> Path:
    """Write ``model`` (a :class:`TrainedModel` or a fitted Trainer) to ``path`` as
    ONNX through the dynamo exporter (:func:`torch.onnx.export`, ``dynamo=True``),
    atomically, with :class:`DeviceGraph`'s preprocessing and softmax inside.

    Before writing, onnxruntime and torch predict :data:`_CHECK_IMAGES` random
    uint8 images (drawn with ``seed``); a largest probability difference above
    :data:`TOLERANCE` raises a RuntimeError and writes nothing. The difference is
    recorded in the metadata as ``check_max_abs_diff``.
    """
    trained = trained_model(model)
    path = check_target(path, overwrite)
    height, width = trained.image_size_
    graph = torch_graph(trained)
    example = torch.zeros(2, height, width, 3, dtype=torch.uint8)
    with _quiet():
        program = torch.onnx.export(
            graph, (example,), dynamo=True, opset_version=OPSET, input_names=[INPUT],
            output_names=[OUTPUT], dynamic_shapes={"images": {0: torch.export.Dim("batch")}},
            verbose=False)
    proto = program.model_proto
    images = torch.randint(0, 256, (_CHECK_IMAGES, height, width, 3), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(seed))
    with torch.inference_mode():
        expected = graph(images).numpy()
    got = _session(proto.SerializeToString()).run([OUTPUT], {INPUT: images.numpy()})[0]
    difference = float(np.abs(got - expected).max())
    if not difference <= TOLERANCE:
        raise RuntimeError(f"the ONNX export of {trained!r} differs from torch by {difference:.2e} "
                           f"in probability (allowed {TOLERANCE:g}); nothing written to {path}")
    _set_metadata(proto, {
        "format": _FORMAT, "opset": str(OPSET), "input": INPUT, "output": OUTPUT,
        "input_layout": "uint8 NHWC RGB, pixels 0-255",
        "preprocessing": "x = pixels / 127.5 - 1 (inside the graph)",
        "output_meaning": "softmax probabilities, one column per class",
        "classes": list(trained.classes_), "image_size": list(trained.image_size_),
        "arch": trained.arch, "precision": "fp32", "check_max_abs_diff": f"{difference:.3g}",
        "versions": library_versions("spinml", "torch", "onnx", "onnxruntime")})
    _write(path, proto.SerializeToString())
    return path


class _References:
    """onnxruntime's CalibrationDataReader over uint8 images, one image per call."""

    def __init__(self, images: np.ndarray) -> None:
        self._images = iter(images)

    def get_next(self) -> dict[str, np.ndarray] | None:
        image = next(self._images, None)
        return None if image is None else {INPUT: image[None]}


def _images(data: Data | np.ndarray, name: str) -> np.ndarray:
    """uint8 ``(N, H, W, 3)`` images of a data set or array (labels, if any, unread)."""
    from spinml.train.trainer import _as_arrays, _check_images

    if isinstance(data, np.ndarray):
        return _check_images(data[None] if data.ndim == 3 else data, name)
    return _as_arrays(data, name)[0]


def quantize_onnx(source: str | Path, path: str | Path, calibration: Data | np.ndarray, *,
                  overwrite: bool = False) -> Path:
    """Write an int8 copy of the fp32 export ``source`` to ``path``, atomically.

    onnxruntime's ``quantize_static`` after its ``quant_pre_process`` (shape
    inference, graph optimisation): QDQ format, weights int8 per output channel,
    activations uint8, each activation's range the min/max over ``calibration``'s
    images (a data set or uint8 ``(N, H, W, 3)`` array; labels unread), fed one
    at a time. The source's metadata is kept, with ``precision`` "int8" and
    ``calibration_images``.
    """
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quant_pre_process
    from onnxruntime.quantization import quantize_static as ort_quantize_static

    source = Path(source)
    meta = OnnxModel(source).metadata
    path = check_target(path, overwrite)
    images = _images(calibration, "calibration")
    size = tuple(json.loads(meta["image_size"]))
    if images.shape[1:3] != size:
        raise ValueError(f"calibration images are {images.shape[2]}x{images.shape[1]} pixels; "
                         f"{source} takes {size[1]}x{size[0]}")
    with tempfile.TemporaryDirectory(prefix="spinml-int8-") as tmp, _quiet():
        prepared, quantized = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(source), str(prepared))
        ort_quantize_static(str(prepared), str(quantized), _References(images),
                            quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        proto = onnx.load(str(quantized))
    _set_metadata(proto, {**meta, "precision": "int8",
                          "quantization": "onnxruntime static QDQ, int8 per-channel weights, "
                                          "uint8 activations, MinMax calibration",
                          "calibration_images": str(len(images))})
    _write(path, proto.SerializeToString())
    return path


class OnnxModel:
    """An exported model run by onnxruntime on the CPU, as a device would.

    ``threads``: intra-op threads (None: onnxruntime's default). ``classes_``
    and ``image_size_`` come from the file's metadata; ``metadata`` holds all
    of it; ``size_bytes`` is the file's size.
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnx

        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"ONNX file {self.path} does not exist")
        try:
            proto = onnx.load(str(self.path), load_external_data=False)
        except Exception as err:  # onnx raises DecodeError and others on garbage
            raise ValueError(f"{self.path} is not an ONNX model: {err}") from None
        self.metadata = {p.key: p.value for p in proto.metadata_props}
        if self.metadata.get("format") != _FORMAT:
            raise ValueError(f"{self.path} is not a spinml export (metadata format "
                             f"{self.metadata.get('format')!r}, expected {_FORMAT!r})")
        self.classes_ = tuple(json.loads(self.metadata["classes"]))
        self.image_size_ = tuple(json.loads(self.metadata["image_size"]))
        self.size_bytes = self.path.stat().st_size
        self._session = _session(self.path, threads)

    def __repr__(self) -> str:
        return (f"OnnxModel({str(self.path)!r}, precision={self.metadata.get('precision')!r}, "
                f"classes={list(self.classes_)})")

    def run(self, images: np.ndarray) -> np.ndarray:
        """Probabilities of uint8 ``(N, H, W, 3)`` images, one onnxruntime call."""
        return self._session.run([OUTPUT], {INPUT: images})[0]

    def predict_proba(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Class probabilities, float32 ``(N, len(classes_))``."""
        X = _images(data, "data")
        if X.shape[1:3] != self.image_size_:
            raise ValueError(f"images are {X.shape[2]}x{X.shape[1]} pixels; {self.path} takes "
                             f"{self.image_size_[1]}x{self.image_size_[0]}")
        return np.concatenate([self.run(X[i:i + batch_size])
                               for i in range(0, len(X), batch_size)])

    def predict(self, data: Data | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The most probable class of each image: int64 indices into ``classes_``."""
        return self.predict_proba(data, batch_size).argmax(1)

    def score(self, dataset: Data, batch_size: int = 256) -> float:
        """Accuracy on a labelled data set with the model's classes (any order)."""
        from spinml.train.trainer import _as_arrays, _remap

        X, y, classes = _as_arrays(dataset, "test set")
        y = _remap(y, classes, self.classes_, "test set", str(self.path))
        return float(np.mean(self.predict(X, batch_size) == y))


def torch_graph(model: TrainedModel) -> DeviceGraph:
    """The torch module a device running PyTorch eager would run: :class:`DeviceGraph`
    of ``model``, in eval mode on the CPU (a CPU copy of a model held on a GPU, which
    stays there)."""
    module = trained_model(model).module_
    if any(p.device.type != "cpu" for p in module.parameters()):
        module = copy.deepcopy(module).cpu()
    return DeviceGraph(module).eval()

