"""The Trainer and the TrainedModel it fits: learning, the protocol's
split and checkpoint, determinism, saving, and errors on bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from spinml.data.synthetic import SyntheticImage, SyntheticSet
from spinml.estimator import NotFittedError
from spinml.image import to_unit_range
from spinml.train import TrainedModel, Trainer
from spinml.train.trainer import (
    _recompute_batch_norm,
    _stratified_split,
    random_color,
    random_crop_flip,
)

FAST = {"batch_size": 32, "progress": False}


def _head(data: tuple, n: int) -> tuple:
    X, y, classes = data
    return X[:n], y[:n], classes


@pytest.fixture(scope="module")
def tiny(digits16: tuple) -> TrainedModel:
    """ResNet-20, 3 epochs on 400 16x16 digits (no augmentation: mirrored digits
    are other symbols)."""
    train, _ = digits16
    return Trainer("resnet20", epochs=3, augment=False, **FAST).fit(_head(train, 400)).model_


def test_learns_digits(tiny: TrainedModel, digits16: tuple) -> None:
    _, test = digits16
    assert tiny.score(test) >= 0.8
    assert tiny.history_[-1]["train_loss"] < tiny.history_[0]["train_loss"]


def test_fitted_model_records_the_run(tiny: TrainedModel) -> None:
    assert tiny.classes_ == tuple(str(d) for d in range(10))
    assert tiny.image_size_ == (16, 16)
    assert tiny.arch == "resnet20" and tiny.params["epochs"] == 3
    assert [h["epoch"] for h in tiny.history_] == [1, 2, 3]
    val = [h["val_accuracy"] for h in tiny.history_]
    assert tiny.best_epoch_ == len(val) - int(np.argmax(val[::-1]))  # ties: the later
    assert not tiny.module_.training


def test_keeps_the_best_validation_epoch(digits16: tuple) -> None:
    train, test = digits16
    val = _head(test, 100)
    model = Trainer("resnet20", epochs=3, **FAST).fit(_head(train, 128), val=val).model_
    best = max(h["val_accuracy"] for h in model.history_)
    assert model.history_[model.best_epoch_ - 1]["val_accuracy"] == best
    assert model.score(val) == pytest.approx(best)


def test_fit_returns_the_trainer_with_the_model_in_model_(digits16: tuple, tmp_path) -> None:
    train, (X, y, classes) = digits16
    trainer = Trainer("resnet20", epochs=1, **FAST)
    for method in ("predict", "predict_proba", "score", "adapt"):
        with pytest.raises(NotFittedError, match="Trainer is not fitted yet"):
            getattr(trainer, method)(X)
    with pytest.raises(NotFittedError, match="not fitted"):
        trainer.save(tmp_path / "unfitted")
    assert not hasattr(trainer, "model_") and not hasattr(trainer, "classes_")
    assert trainer.fit(_head(train, 64)) is trainer
    model = trainer.model_
    assert isinstance(model, TrainedModel) and trainer.classes_ == model.classes_
    assert [k for k in vars(trainer) if k not in trainer.get_params()] == ["model_"]
    assert np.array_equal(trainer.predict(X), model.predict(X))
    assert np.array_equal(trainer.predict_proba(X), model.predict_proba(X))
    assert trainer.score((X, y, classes)) == model.score((X, y, classes))
    assert np.array_equal(trainer.adapt(X).predict(X), model.adapt(X).predict(X))
    loaded = TrainedModel.load(trainer.save(tmp_path / "model"))
    assert np.array_equal(loaded.predict(X), model.predict(X))
    trainer.set_params(seed=1).fit(_head(train, 64))
    assert trainer.model_ is not model  # a new fit replaces the model, the old one stays


def test_stratified_split() -> None:
    y = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, val = _stratified_split(y, 0.1, torch.Generator().manual_seed(0))
    assert len(val) == 10 and len(train) == 90
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert np.all(np.abs(np.bincount(y[val], minlength=4) - [5, 3, 1.5, 0.5]) <= 1)
    assert len(_stratified_split(y, 0.0, torch.Generator())[1]) == 0


def test_batch_norm_statistics_are_recomputed() -> None:
    net = nn.Sequential(nn.BatchNorm2d(3), nn.Dropout(0.5))
    images = torch.randint(0, 256, (10, 3, 4, 4), dtype=torch.uint8)
    x = to_unit_range(images)
    _recompute_batch_norm(net, images, batch_size=10)
    norm = net[0]
    assert torch.allclose(norm.running_mean, x.mean((0, 2, 3)), atol=1e-6)
    assert torch.allclose(norm.running_var, x.var((0, 2, 3)), atol=1e-6)  # unbiased
    assert norm.momentum == 0.1 and net.training


def test_random_crop_flip_shifts_and_mirrors() -> None:
    images = torch.arange(2 * 3 * 8 * 8, dtype=torch.int64).reshape(2, 3, 8, 8)
    out = random_crop_flip(images, torch.Generator().manual_seed(0), padding=0)
    for i in range(2):
        assert torch.equal(out[i], images[i]) or torch.equal(out[i], images[i].flip(-1))
    padded = random_crop_flip(images, torch.Generator().manual_seed(1), padding=2)
    again = random_crop_flip(images, torch.Generator().manual_seed(1), padding=2)
    assert padded.shape == images.shape and torch.equal(padded, again)


def test_random_color_scales_channels_and_shifts_brightness() -> None:
    images = torch.full((64, 3, 4, 4), 100, dtype=torch.uint8)
    assert torch.equal(random_color(images, torch.Generator().manual_seed(0), 0.0), images)
    out = random_color(images, torch.Generator().manual_seed(0), 0.25)
    again = random_color(images, torch.Generator().manual_seed(0), 0.25)
    assert out.dtype == torch.uint8 and torch.equal(out, again)
    assert (out == out[:, :, :1, :1]).all()            # one gain per image and channel
    per_channel = out[:, :, 0, 0].float()
    assert 10 < per_channel.std() < 60 and abs(per_channel.mean() - 100) < 15


def test_adapt_sets_batch_norm_statistics_to_the_images(tiny: TrainedModel,
                                                        digits16: tuple) -> None:
    _, test = digits16
    X, _, _ = _head(test, 50)
    shifted = np.clip(X.astype(int) + 60, 0, 255).astype(np.uint8)
    adapted = tiny.adapt(shifted)
    first = next(m for m in adapted.module_.modules() if isinstance(m, nn.BatchNorm2d))
    x = to_unit_range(torch.from_numpy(shifted).permute(0, 3, 1, 2))
    stem = next(m for m in adapted.module_.modules() if isinstance(m, nn.Conv2d))
    with torch.no_grad():
        h = stem(x)
    assert torch.allclose(first.running_mean, h.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(first.running_var, h.var((0, 2, 3)), rtol=1e-3, atol=1e-5)
    before, after = tiny.module_.state_dict(), adapted.module_.state_dict()
    assert not torch.equal(before["bn.running_mean"], after["bn.running_mean"])
    weights = [k for k in before if not k.endswith(("running_mean", "running_var",
                                                        "num_batches_tracked"))]
    assert all(torch.equal(before[k], after[k]) for k in weights)
    assert not adapted.module_.training


@pytest.mark.parametrize("arch", ["mobilenet_v2", "resnet20"])
def test_same_seed_same_weights(digits16: tuple, arch: str) -> None:
    train, test = digits16
    data, test = _head(train, 64), _head(test, 64)
    settings = {"arch": arch, "epochs": 2, "arch_kwargs": {"width": 0.35}
                if arch == "mobilenet_v2" else None, **FAST}
    first = Trainer(seed=3, **settings).fit(data)
    second = Trainer(seed=3, **settings).fit(data)
    other = Trainer(seed=4, **settings).fit(data)
    a, b, c = (m.model_.module_.state_dict() for m in (first, second, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert np.array_equal(first.predict_proba(test), second.predict_proba(test))


def test_save_load_round_trip(tiny: TrainedModel, digits16: tuple, tmp_path) -> None:
    _, test = digits16
    folder = tiny.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["arch"] == "resnet20" and config["params"]["seed"] == 0
    assert set(config["versions"]) == {"spinml", "torch", "accelerate"}
    loaded = TrainedModel.load(folder)
    assert loaded.classes_ == tiny.classes_ and loaded.history_ == tiny.history_
    assert loaded.best_epoch_ == tiny.best_epoch_ and loaded.image_size_ == tiny.image_size_
    assert np.array_equal(loaded.predict_proba(test), tiny.predict_proba(test))
    with pytest.raises(FileExistsError):
        tiny.save(folder)
    tiny.save(folder, overwrite=True)
    with pytest.raises(FileNotFoundError, match="config.json"):
        TrainedModel.load(tmp_path)


def test_predict_score_and_classes(tiny: TrainedModel, digits16: tuple) -> None:
    _, (X, y, classes) = digits16
    proba = tiny.predict_proba(X)
    assert proba.shape == (len(X), 10) and proba.dtype == np.float32
    assert np.allclose(proba.sum(1), 1, atol=1e-5)
    assert np.array_equal(tiny.predict(X), proba.argmax(1))
    assert tiny.predict(X[0]).shape == (1,)
    accuracy = tiny.score((X, y, classes))
    assert accuracy == pytest.approx(np.mean(tiny.predict(X) == y))
    reversed_classes = classes[::-1]
    assert tiny.score((X, 9 - y, reversed_classes)) == accuracy  # same names, other order
    with pytest.raises(ValueError, match=r"test set has classes \['a', 'b'\].*\['0', '1'"):
        tiny.score((X, y % 2, ("a", "b")))
    with pytest.raises(ValueError, match="trained on 16x16"):
        tiny.predict(np.zeros((2, 32, 32, 3), np.uint8))


def test_fits_a_synthetic_set_and_a_validation_set(digits16: tuple) -> None:
    (X, y, classes), (X_test, y_test, _) = digits16
    synthetic = SyntheticSet([SyntheticImage(image=X[i], label=classes[y[i]],
                                             provenance={"scheme": "L0_L0"}) for i in range(64)])
    assert synthetic.classes == classes
    model = Trainer("resnet20", epochs=1, **FAST).fit(
        synthetic, val=(X_test[:50], y_test[:50], classes)).model_
    assert model.classes_ == classes and model.history_[0]["val_accuracy"] is not None


def test_custom_module(digits16: tuple, tmp_path) -> None:
    train, test = digits16
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(8, 10))
    before = [p.detach().clone() for p in net.parameters()]
    model = Trainer(net, epochs=1, val_fraction=0.0, **FAST).fit(_head(train, 64)).model_
    # the Trainer trains a copy
    assert all(torch.equal(p, q) for p, q in zip(before, net.parameters(), strict=True))
    assert model.arch == "torch.nn.modules.container.Sequential" and model.best_epoch_ == 1
    assert model.history_[0]["val_accuracy"] is None
    model.save(tmp_path / "custom")
    with pytest.raises(ValueError, match="custom architecture.*module="):
        TrainedModel.load(tmp_path / "custom")
    loaded = TrainedModel.load(tmp_path / "custom", module=net)
    assert np.array_equal(loaded.predict(test), model.predict(test))
    wrong = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16 * 3, 3))
    with pytest.raises(ValueError, match=r"logits of shape \(32, 3\).*\(batch, 10\)"):
        Trainer(wrong, epochs=1, **FAST).fit(_head(train, 64))


def test_settings_protocol() -> None:
    trainer = Trainer(epochs=2, lr=3e-4)
    params = trainer.get_params()
    assert params["epochs"] == 2 and params["arch"] == "mobilenet_v2"
    assert repr(Trainer(**params)) == repr(trainer)
    assert trainer.set_params(epochs=7) is trainer and trainer.epochs == 7
    with pytest.raises(ValueError, match="unknown Trainer settings \\['epoch'\\]"):
        trainer.set_params(epoch=3)


@pytest.mark.parametrize(("setting", "value", "message"), [
    ("arch", "vgg16", "unknown architecture arch='vgg16'"),
    ("epochs", 0, "epochs must be a positive integer"),
    ("epochs", 2.5, "epochs must be a positive integer"),
    ("lr", 0.0, "lr must be a positive number"),
    ("lr", float("nan"), "lr must be a positive number"),
    ("batch_size", -1, "batch_size must be a positive integer"),
    ("val_fraction", 1.0, r"val_fraction must be in \[0, 1\)"),
    ("val_fraction", -0.1, r"val_fraction must be in \[0, 1\)"),
    ("seed", -1, "seed must be a non-negative integer"),
    ("color_jitter", -0.1, "color_jitter must be a number >= 0"),
    ("device", "tpu", "device must be one of"),
])
def test_bad_settings(setting: str, value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Trainer(**{setting: value})
    with pytest.raises(ValueError, match=message):
        Trainer().set_params(**{setting: value})


def test_bad_data(digits16: tuple) -> None:
    (X, y, classes), _ = digits16
    trainer = Trainer(epochs=1, **FAST)
    with pytest.raises(TypeError, match="ReferenceSet, a SyntheticSet or an \\(X, y, classes\\)"):
        trainer.fit(X)
    with pytest.raises(ValueError, match="uint8 RGB"):
        trainer.fit((X.astype(np.float32), y, classes))
    with pytest.raises(ValueError, match=r"class indices in \[0, 10\)"):
        trainer.fit((X, y + 1, classes))
    with pytest.raises(ValueError, match="single class"):
        trainer.fit((X[:4], np.zeros(4, np.int64), ("only",)))
    with pytest.raises(ValueError, match=r"val has classes \['a', 'b'\]"):
        trainer.fit((X, y, classes), val=(X, y % 2, ("a", "b")))
    with pytest.raises(ValueError, match="leaves no training images"):
        Trainer(val_fraction=0.5, **FAST).fit((X[:1], y[:1], classes))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_a_gpu(digits16: tuple) -> None:
    train, _ = digits16
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        Trainer(device="cuda", **FAST).fit(_head(train, 32))


def test_progress_switch(digits16: tuple, capsys: pytest.CaptureFixture) -> None:
    train, _ = digits16
    Trainer("resnet20", epochs=1, **FAST).fit(_head(train, 32))
    assert capsys.readouterr().err == ""


@pytest.mark.slow
def test_digits32_accuracy_at_least_90_percent(digits32: tuple) -> None:
    train, test = digits32
    # The paper's protocol (5 epochs, Adam 1e-3, batch 128, 90/10 split) without
    # augmentation: mirrored digits are other symbols.
    model = Trainer("resnet20", augment=False, progress=False).fit(train)
    assert model.score(test) >= 0.90
