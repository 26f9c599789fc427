"""The model on the device: ONNX export equal to torch, int8 quantisation, errors,
atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from torch import nn

from spinml.estimator import NotFittedError
from spinml.train import Trainer
from spinml.train import export as export_module
from spinml.train.export import OPSET, OnnxModel


def _small_net() -> nn.Module:
    """A small BatchNorm CNN (about 25k weights), fast to train and to export."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))


@pytest.fixture(scope="module")
def model(digits16: tuple):
    train, _ = digits16
    X, y, classes = train
    return Trainer(_small_net(), epochs=3, augment=False, batch_size=32, seed=0,
                   progress=False).fit((X[:600], y[:600], classes))


@pytest.fixture(scope="module")
def calibration(digits16: tuple) -> np.ndarray:
    """64 unlabelled training-split images the model was not trained on."""
    return digits16[0][0][-64:]


@pytest.fixture(scope="module")
def exported(model, calibration, tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("export")
    return (model.export(folder / "model.onnx"),
            model.export(folder / "model_int8.onnx", format="onnx-int8",
                         calibration=calibration))


def test_onnx_equals_torch_on_random_images(model, exported) -> None:
    fp32, _ = exported
    images = np.random.default_rng(1).integers(0, 256, (32, 16, 16, 3), dtype=np.uint8)
    onnx_model = OnnxModel(fp32)
    assert np.abs(onnx_model.predict_proba(images) - model.predict_proba(images)).max() <= 1e-4
    assert onnx_model.classes_ == model.classes_ and onnx_model.image_size_ == (16, 16)


def test_file_records_opset_input_and_classes(exported) -> None:
    proto = onnx.load(str(exported[0]))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["opset"] == str(OPSET) and meta["input"] == "images"
    assert meta["output"] == "probabilities" and meta["precision"] == "fp32"
    assert json.loads(meta["classes"]) == [str(d) for d in range(10)]
    assert float(meta["check_max_abs_diff"]) <= 1e-4
    assert {o.domain: o.version for o in proto.opset_import}[""] == OPSET
    (graph_input,) = proto.graph.input
    assert graph_input.name == "images"
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim[1:]] == [16, 16, 3]


def test_int8_is_smaller_and_agrees_with_fp32(model, exported, digits16: tuple) -> None:
    fp32, int8 = exported
    assert int8.stat().st_size < 0.5 * fp32.stat().st_size
    quantized = OnnxModel(int8)
    assert quantized.metadata["precision"] == "int8"
    assert quantized.metadata["calibration_images"] == "64"
    _, test = digits16
    agreement = np.mean(quantized.predict(test) == OnnxModel(fp32).predict(test))
    assert agreement >= 0.9
    assert abs(quantized.score(test) - model.score(test)) <= 0.05


def test_unknown_format_and_missing_calibration(model, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format 'tflite'"):
        model.export(tmp_path / "m.onnx", format="tflite")
    with pytest.raises(ValueError, match="needs calibration="):
        model.export(tmp_path / "m.onnx", format="onnx-int8")
    assert list(tmp_path.iterdir()) == []


def test_untrained_model_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NotFittedError, match="untrained model"):
        Trainer("resnet20").export(tmp_path / "m.onnx")
    with pytest.raises(NotFittedError, match="untrained model"):
        export_module.export_onnx(Trainer("resnet20"), tmp_path / "m.onnx")
    with pytest.raises(TypeError, match="TrainedModel or a fitted Trainer"):
        export_module.export_onnx(nn.Linear(2, 2), tmp_path / "m.onnx")


def test_bad_paths_are_refused_before_any_work(model, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="a_file is a file"):
        model.export(blocker / "sub" / "m.onnx")
    with pytest.raises(ValueError, match="must end in .onnx"):
        model.export(tmp_path / "m.pt")
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"old")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.export(existing)
    assert existing.read_bytes() == b"old"


def test_failed_check_writes_nothing(model, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(export_module, "TOLERANCE", -1.0)
    with pytest.raises(RuntimeError, match="differs from torch"):
        model.export(tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_onnx_model_refuses_other_files(tmp_path: Path) -> None:
    garbage = tmp_path / "g.onnx"
    garbage.write_bytes(b"\x00not onnx")
    with pytest.raises(ValueError, match="g.onnx is not"):
        OnnxModel(garbage)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        OnnxModel(tmp_path / "missing.onnx")
