"""BNInversionGenerator and the BatchNorm-statistics loss on tiny networks."""

from dataclasses import asdict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from spinml.data import SyntheticSet
from spinml.estimator import NotFittedError
from spinml.generate import BNInversionGenerator, Priors
from spinml.generate.bn_inversion import (
    jensen_shannon,
    learning_rates,
    total_variation,
)
from spinml.generate.bn_statistics import bn_statistics_loss
from spinml.image import from_unit_range, to_unit_range
from spinml.train import TrainedModel, Trainer


class Tiny(nn.Module):
    """conv -> BN -> ReLU -> conv (stride 2) -> BN -> ReLU -> pool -> linear."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(6)
        self.conv2 = nn.Conv2d(6, 8, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.fc = nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return self.fc(x.mean((2, 3)))


def tiny_teacher(seed: int = 0, classes: int = 3) -> Tiny:
    """A Tiny whose running statistics are those of structured "real" images
    (bright top half, dark bottom half), far from those of Gaussian noise."""
    torch.manual_seed(seed)
    net = Tiny(classes)
    real = torch.rand(64, 3, 8, 8) * 0.4 - 0.9
    real[:, :, :4] += 1.4
    for layer in (net.bn1, net.bn2):
        layer.momentum = None
    with torch.no_grad():
        net.train()
        net(real)
    return net.eval()


SETTINGS = {"steps": 40, "batch_size": 12, "image_size": 8, "progress": False}


def generator(net, **kwargs) -> BNInversionGenerator:
    return BNInversionGenerator(**(SETTINGS | kwargs)).fit(net)


def test_optimisation_brings_batch_statistics_to_running_statistics():
    net = tiny_teacher()
    gen = generator(net, steps=60)
    sets = gen.generate_snapshots(8, seed=0, at=(0, 60))
    losses = gen.history_[0]["bn"]
    assert losses[-1] < 0.5 * losses[0]
    before = bn_statistics_loss(net, to_unit_range(torch.from_numpy(
        sets[0].to_arrays()[0]).permute(0, 3, 1, 2)))
    after = bn_statistics_loss(net, to_unit_range(torch.from_numpy(
        sets[60].to_arrays()[0]).permute(0, 3, 1, 2)))
    assert after[0] < 0.5 * before[0]
    assert torch.all(after[1] < before[1]) and torch.all(after[2] < before[2])


def test_generated_images_are_what_the_teacher_saw():
    net = tiny_teacher()
    teacher = TrainedModel(net, ("a", "b", "c"), (8, 8), arch="tiny", arch_kwargs={},
                           params={}, history=[], best_epoch=0)
    synthetic = BNInversionGenerator(steps=60, batch_size=12,
                                     progress=False).fit(teacher).generate(8, seed=1)
    assert synthetic.classes == ("a", "b", "c")
    X, y = synthetic.to_arrays()
    assert X.dtype == np.uint8 and X.shape == (24, 8, 8, 3)
    assert np.mean(teacher.predict(X) == y) >= 0.9
    x = torch.rand(5, 3, 4, 4) * 2 - 1
    back = to_unit_range(torch.from_numpy(from_unit_range(x)).permute(0, 3, 1, 2))
    assert torch.max(torch.abs(back - x)) <= 0.5 / 127.5 + 1e-6


def test_a_fitted_trainer_is_a_teacher_like_its_model():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (24, 8, 8, 3), dtype=np.uint8)
    trainer = Trainer("resnet20", epochs=1, batch_size=8, val_fraction=0.0, progress=False)
    trainer.fit((X, np.arange(24) % 2, ("a", "b")))
    settings = {"steps": 2, "batch_size": 4, "progress": False}
    by_trainer = BNInversionGenerator(**settings).fit(trainer).generate(2, seed=0)
    by_model = BNInversionGenerator(**settings).fit(trainer.model_).generate(2, seed=0)
    assert by_trainer.classes == ("a", "b")
    assert np.array_equal(by_trainer.to_arrays()[0], by_model.to_arrays()[0])


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_same_seed_same_images_and_snapshots_equal_separate_runs(schedule):
    net = tiny_teacher()
    a = generator(net, steps=15, schedule=schedule).generate(7, seed=3)
    b = generator(net, steps=15, schedule=schedule).generate(7, seed=3)
    c = generator(net, steps=15, schedule=schedule).generate(7, seed=4)
    assert np.array_equal(a.to_arrays()[0], b.to_arrays()[0])
    assert not np.array_equal(a.to_arrays()[0], c.to_arrays()[0])
    gen = generator(net, schedule=schedule)
    snaps = gen.generate_snapshots(7, seed=3, at=(15, 0, 5))
    assert np.array_equal(snaps[15].to_arrays()[0], a.to_arrays()[0])
    assert np.array_equal(snaps[5].to_arrays()[0], generator(
        net, steps=5, schedule=schedule).generate(7, seed=3).to_arrays()[0])
    assert np.array_equal(snaps[0].to_arrays()[0], generator(
        net, steps=0, schedule=schedule).generate(7, seed=3).to_arrays()[0])
    # a constant rate: one run of 15 steps per batch; a cosine one depends on K: a run per K
    runs = [(h["batch"], h["K"], len(h["bn"])) for h in gen.history_]
    assert runs == ([(0, 15, 15), (1, 15, 15)] if schedule == "constant" else
                    [(0, 5, 5), (1, 5, 5), (0, 15, 15), (1, 15, 15)])
    assert all(isinstance(v, float) for h in gen.history_ for v in h["total"])


def test_learning_rates():
    assert learning_rates(0.1, 3, "constant") == [0.1, 0.1, 0.1]
    rates = learning_rates(0.1, 4, "cosine")
    assert rates == pytest.approx([0.1, 0.1 * (1 + 2 ** -0.5) / 2, 0.05,
                                   0.1 * (1 - 2 ** -0.5) / 2])
    assert learning_rates(0.1, 0, "cosine") == []
    with pytest.raises(ValueError, match="schedule"):
        learning_rates(0.1, 4, "linear")


def test_schedule_and_betas_change_the_images():
    net = tiny_teacher()
    images = {settings: generator(net, steps=10, schedule=settings[0], betas=settings[1])
              .generate(4, seed=0).to_arrays()[0]
              for settings in [("constant", (0.9, 0.999)), ("cosine", (0.9, 0.999)),
                               ("cosine", (0.5, 0.9))]}
    first, *others = images.values()
    assert all(not np.array_equal(first, other) for other in others)
    assert not np.array_equal(*others)


def test_balanced_labels_and_provenance():
    synthetic = generator(tiny_teacher(), steps=2, batch_size=10).generate(n_per_class=8, seed=7)
    assert isinstance(synthetic, SyntheticSet) and len(synthetic) == 24
    assert np.bincount(synthetic.to_arrays()[1]).tolist() == [8, 8, 8]
    assert synthetic.to_arrays()[1][:6].tolist() == [0, 1, 2, 0, 1, 2]  # every batch all classes
    p = synthetic[12].provenance
    assert (p["method"], p["K"], p["seed"], p["batch"], p["label"]) == (
        "bn_inversion", 2, 7, 1, synthetic[12].label)
    assert p["priors"] == {"tv": 0.0, "l2": 0.0, "jitter": 0, "flip": False, "first_bn": 1.0,
                           "competition": 0.0, "temperature": 3.0, "student_steps": 0}
    assert (p["lr"], p["schedule"], p["betas"], p["batch_size"]) == (
        0.1, "cosine", [0.9, 0.999], 10)
    assert synthetic.schemes == ("bn_inversion_K2",)


class Failing(Tiny):
    """Raises in the forward pass that builds a graph (the optimisation, not the probe)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            raise RuntimeError("boom")
        return super().forward(x)


def test_teacher_mode_and_hooks_are_restored_even_on_error():
    net = tiny_teacher().train()
    generator(net, steps=3).generate(2, seed=0)
    assert net.training and all(m.training for m in net.modules())
    failing = Failing()
    failing.train()
    with pytest.raises(RuntimeError, match="boom"):
        generator(failing, steps=3).generate(2, seed=0)
    assert failing.training
    assert not failing.bn1._forward_pre_hooks and not failing.bn2._forward_pre_hooks


def test_all_priors_with_a_distilled_student():
    net, student = tiny_teacher(0), tiny_teacher(1)
    weights = {k: v.clone() for k, v in student.state_dict().items()}
    priors = {"tv": 1e-3, "l2": 1e-3, "jitter": 2, "flip": True, "first_bn": 5.0,
              "competition": 1.0, "student_steps": 2}
    a = generator(net, steps=4, priors=priors, student=student).generate(4, seed=0)
    b = generator(net, steps=4, priors=Priors(**priors), student=student).generate(4, seed=0)
    assert np.array_equal(a.to_arrays()[0], b.to_arrays()[0])
    # each K of a cosine schedule is its own run, with its own copy of the student
    snaps = generator(net, priors=priors, student=student).generate_snapshots(4, at=(2, 4))
    assert np.array_equal(snaps[4].to_arrays()[0], a.to_arrays()[0])
    assert np.array_equal(snaps[2].to_arrays()[0], generator(
        net, steps=2, priors=priors, student=student).generate(4, seed=0).to_arrays()[0])
    for key, value in student.state_dict().items():
        assert torch.equal(value, weights[key])


def test_prior_terms():
    assert total_variation(torch.ones(2, 3, 4, 4)) == 0
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 1.0
    # the centre differs from two neighbours in each of the four directions
    assert total_variation(x) == pytest.approx(4 * 2 ** 0.5)
    logits = torch.randn(5, 4)
    assert jensen_shannon(logits, logits, 3.0) == pytest.approx(0.0, abs=1e-6)
    assert jensen_shannon(logits * 50, -logits * 50, 1.0) > 0.1


class NoBatchNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mean((2, 3))


class Unpadded(Tiny):
    """A 5x5 convolution without padding first: images under 5x5 do not fit."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5, bias=False)


@pytest.mark.parametrize(("teacher", "kwargs", "message"), [
    (Tiny(), {"steps": -1}, "steps"),
    (Tiny(), {"steps": 2.5}, "steps"),
    (Tiny(), {"batch_size": 0}, "batch_size"),
    (Tiny(), {"lr": 0}, "lr"),
    (Tiny(), {"schedule": "linear"}, "schedule"),
    (Tiny(), {"schedule": None}, "schedule"),
    (Tiny(), {"betas": (0.9,)}, "betas"),
    (Tiny(), {"betas": (0.9, 1.0)}, "betas"),
    (Tiny(), {"betas": "0.5,0.9"}, "betas"),
    (NoBatchNorm(), {}, "BatchNorm"),
    (Unpadded(), {"image_size": 3}, "image_size=3x3"),
    (Tiny(), {"image_size": 0}, "image_size"),
    (Tiny(), {"image_size": None}, "image_size is required"),
    (Tiny(), {"classes": ["a", "b"]}, "classes has 2 names"),
    (Tiny(), {"priors": {"colour": 1}}, "unknown priors"),
    (Tiny(), {"priors": {"tv": -1}}, "priors.tv"),
    (Tiny(), {"priors": {"jitter": 8}}, "priors.jitter"),
    (Tiny(), {"priors": {"competition": 1.0}}, "student"),
])
def test_bad_settings_get_clear_errors(teacher, kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        generator(teacher, **kwargs)


def test_bad_generate_arguments_and_teacher_size():
    gen = generator(tiny_teacher(), steps=1)
    with pytest.raises(ValueError, match="n_per_class must be a positive integer"):
        gen.generate(0)
    with pytest.raises(ValueError, match="seed"):
        gen.generate(4, seed=-1)
    with pytest.raises(ValueError, match="at must"):
        gen.generate_snapshots(4, at=(-1, 3))
    teacher = TrainedModel(tiny_teacher(), ("a", "b", "c"), (8, 8), arch="tiny", arch_kwargs={},
                           params={}, history=[], best_epoch=0)
    with pytest.raises(ValueError, match="trained on 8x8"):
        BNInversionGenerator(image_size=16).fit(teacher)
    with pytest.raises(TypeError, match="teacher must be"):
        BNInversionGenerator(image_size=8).fit("resnet20")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"steps": -1}, r"steps \(K\) must be an integer >= 0"),
    ({"batch_size": 0}, "batch_size must be a positive integer"),
    ({"lr": float("inf")}, "lr must be a positive number"),
    ({"schedule": "linear"}, "schedule must be one of"),
    ({"betas": (0.9, 1.0)}, "betas must be a pair"),
    ({"image_size": (8, 0)}, "image_size must be a positive integer"),
    ({"classes": "abc"}, "classes must be a sequence"),
    ({"priors": {"temperature": 0}}, "priors.temperature must be a positive number"),
    ({"priors": {"competition": 1.0}}, "needs a student"),
    ({"student": "resnet20"}, "student must be a torch.nn.Module"),
    ({"progress": "no"}, "progress must be True or False"),
])
def test_settings_are_refused_in_the_constructor_and_set_params(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        BNInversionGenerator(**kwargs)
    gen = BNInversionGenerator()
    with pytest.raises((ValueError, TypeError), match=message):
        gen.set_params(**kwargs)
    assert gen.get_params() == BNInversionGenerator().get_params()


def test_settings_round_trip_fit_returns_self_and_learned_state():
    gen = BNInversionGenerator(steps=3, batch_size=6, image_size=8, progress=False)
    params = gen.get_params()
    assert params["steps"] == 3 and BNInversionGenerator(**params).get_params() == params
    assert gen.set_params(lr=0.05) is gen and gen.lr == 0.05
    with pytest.raises(ValueError, match=r"unknown BNInversionGenerator settings \['n'\]"):
        gen.set_params(n=3)
    with pytest.raises(NotFittedError, match="not fitted"):
        gen.generate(2)
    before = set(vars(gen))
    net = tiny_teacher()
    assert gen.fit(net) is gen
    assert {k for k in set(vars(gen)) - before} == {"teacher_", "network_", "image_size_",
                                                     "classes_"}
    assert gen.network_ is net and gen.classes_ == ("0", "1", "2") and gen.image_size_ == (8, 8)
    gen.generate(1)
    assert "history_" in vars(gen)


def test_the_old_forms_warn_and_take_a_total():
    net = tiny_teacher()
    new = generator(net, steps=3).generate(n_per_class=4, seed=2)
    with pytest.warns(DeprecationWarning, match="fit\\(teacher\\)"):
        old = BNInversionGenerator(net, **(SETTINGS | {"steps": 3}))
    with pytest.warns(DeprecationWarning, match="total number of images"):
        total = old.generate(12, seed=2)
    assert np.array_equal(total.to_arrays()[0], new.to_arrays()[0])
    with pytest.warns(DeprecationWarning, match="total number of images"):
        odd = generator(net, steps=3).generate(n=5, seed=2)
    assert np.bincount(odd.to_arrays()[1]).tolist() == [2, 2, 1]


def test_save_load_round_trip(tmp_path):
    trainer = Trainer("resnet20", epochs=1, batch_size=8, val_fraction=0.0, progress=False)
    rng = np.random.default_rng(1)
    trainer.fit((rng.integers(0, 256, (12, 8, 8, 3), dtype=np.uint8), np.arange(12) % 3,
                 ("a", "b", "c")))
    for teacher, kwargs in ((trainer, {}), (tiny_teacher(), {"teacher": Tiny()})):
        gen = BNInversionGenerator(steps=2, batch_size=6, lr=0.05, schedule="constant",
                                   image_size=8, priors={"tv": 1e-3}, progress=False)
        gen.fit(teacher)
        folder = gen.save(tmp_path / type(teacher).__name__)
        loaded = BNInversionGenerator.load(folder, **kwargs)
        assert loaded.get_params() == {**gen.get_params(), "priors": asdict(Priors(tv=1e-3)),
                                       "betas": [0.9, 0.999]}
        assert loaded.classes_ == gen.classes_ and loaded.image_size_ == gen.image_size_
        a, b = gen.generate(2, seed=4), loaded.generate(2, seed=4)
        assert np.array_equal(a.to_arrays()[0], b.to_arrays()[0])
        with pytest.raises(FileExistsError):
            gen.save(folder)
    with pytest.raises(ValueError, match="bare teacher module.*teacher="):
        BNInversionGenerator.load(tmp_path / "Tiny")
    with pytest.raises(NotFittedError):
        BNInversionGenerator().save(tmp_path / "unfitted")
