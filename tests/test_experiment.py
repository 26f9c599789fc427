"""experiment.run / sweep on the mini-world with the bundled zoo, at toy sizes."""

import numpy as np
import pandas as pd
import pytest
import torch

from spinml.evaluate import COLUMNS
from spinml.evaluate.paired import paired_table
from spinml.experiment import BASELINES, Experiment, Settings, all_schemes, sweep, utility_runs

TOY = Settings(n_ref=2, n_test=3, n_oracle=3, lora_steps=3, n_per_class=3, sample_steps=2,
               epochs=1, batch_size=8)
POLICIES = ["target=L2,background=L1", "target=L0,background=L0"]


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    frame = Experiment(TOY, cache=cache, progress=False).sweep(POLICIES, alphas=(0, 0.5))
    return cache, frame


def test_sweep_is_tidy_and_finite(first):
    _, frame = first
    assert list(frame.columns) == [*COLUMNS, "user"] and set(frame.user) == {0}
    assert set(frame.scheme) == {"L2_L1", "L0_L0"} and set(frame.alpha) == {0.0, 0.5}
    assert not frame.duplicated(["scheme", "alpha", "object", "metric", "seed"]).any()
    assert np.isfinite(frame.value).all()
    per_run = frame[frame.metric != "shape_leak"].groupby(["scheme", "alpha"]).size()
    assert (per_run == 2 * 6 + 2 + 4).all()  # 6 privacy metrics per object (+ L0 shape_leak)
    upload_mi = frame[(frame.metric == "mi") & (frame.alpha == 0)].set_index(["scheme", "object"])
    assert upload_mi.loc[("L0_L0", "target"), "value"] == 0.0
    assert upload_mi.loc[("L2_L1", "target"), "value"] > upload_mi.loc[("L2_L1", "background"),
                                                                       "value"] > 0


def test_rerun_reads_the_cache_and_loads_no_model(first):
    cache, frame = first
    again = Experiment(TOY, cache=cache, progress=False)
    pd.testing.assert_frame_equal(again.sweep(POLICIES, alphas=(0, 0.5)), frame)
    assert "generator" not in again._loaded


def test_same_seed_same_frame_in_a_fresh_cache(first, tmp_path):
    _, frame = first
    fresh = Experiment(TOY, cache=tmp_path, progress=False).run(POLICIES[0], alpha=0.5)
    expected = frame[(frame.scheme == "L2_L1") & (frame.alpha == 0.5)].reset_index(drop=True)
    pd.testing.assert_frame_equal(fresh, expected, check_exact=True)


def test_a_crashed_run_leaves_no_cache_entry(tmp_path):
    broken = Experiment(Settings(**{**TOY.to_dict(), "arch": "no_such_net"}), cache=tmp_path,
                        progress=False)
    with pytest.raises(ValueError, match="no_such_net"):
        broken.run(POLICIES[1])
    assert not list(tmp_path.glob("model/*"))
    assert not list(tmp_path.glob("metrics/*"))
    assert not list(tmp_path.rglob("*.tmp-*"))


def test_bad_settings_and_alphas_are_refused():
    with pytest.raises(ValueError, match="alpha"):
        Experiment(TOY).training_set(POLICIES[0], 1.5, 0)
    with pytest.raises(ValueError, match="epochs"):
        Settings(epochs=0)
    with pytest.raises(ValueError, match="threads"):
        Settings(threads=0)
    with pytest.raises(FileNotFoundError, match="sd"):
        Settings(sd="/no/such/folder")
    with pytest.raises(ValueError, match="color_jitter"):
        Settings(color_jitter=-1.0)
    with pytest.raises(ValueError, match="conditioning_scale"):
        Settings(conditioning_scale=float("nan"))
    with pytest.raises(TypeError, match="adapt"):
        Settings(adapt="yes")
    with pytest.raises(ValueError, match="users"):
        Settings(users=())
    with pytest.raises(ValueError, match="users"):
        Settings(users=(1, 1))
    with pytest.raises(FileNotFoundError, match="init"):
        Settings(init="no_such_backbone")
    assert Settings(users=[3, 1]).users == (3, 1) and Settings(users=[3, 1]).user == 3
    with pytest.raises(ValueError, match="baselines"):
        Experiment(TOY).sweep(POLICIES, baselines=["nobody"])
    assert len(all_schemes()) == 9


def test_every_setting_belongs_to_exactly_one_cache_stage():
    import dataclasses

    from spinml.experiment import _BASELINE_FIELDS, _STAGE_FIELDS

    staged = [f for fields in _STAGE_FIELDS.values() for f in fields] + list(_BASELINE_FIELDS)
    fields = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(staged) == sorted("user" if f == "users" else f for f in fields)


def _pixels(images) -> list[tuple[str, bytes]]:
    return [(im.label, im.image.tobytes()) for im in images]


def test_alpha_one_is_the_L0_L0_run_and_alpha_zero_the_schemes_own(first):
    cache, frame = first
    experiment = Experiment(TOY, cache=cache, progress=False)
    l0_l0, own = experiment.synthetic(POLICIES[1], 0), experiment.synthetic(POLICIES[0], 0)
    assert _pixels(experiment.training_set(POLICIES[0], 1.0, 0)) == _pixels(l0_l0)
    assert _pixels(experiment.training_set(POLICIES[0], 0.0, 0)) == _pixels(own)
    one = experiment.model(POLICIES[0], 1.0, 0).module_.state_dict()
    for name, value in experiment.model(POLICIES[1], 0.0, 0).module_.state_dict().items():
        assert torch.equal(one[name], value)
    accuracy = frame[(frame.metric == "accuracy")].set_index(["scheme", "alpha"]).value
    at_one = experiment.run(POLICIES[0], alpha=1.0)
    assert at_one[at_one.metric == "accuracy"].value.item() == accuracy["L0_L0", 0.0]


def test_baselines_join_the_frame_per_user_and_pair_with_the_schemes(tmp_path):
    settings = Settings(**{**TOY.to_dict(), "users": (0, 1)})
    frame = sweep(POLICIES[1:], seeds=(0,), settings=settings, cache=tmp_path, progress=False)
    assert set(frame.scheme) == {"L0_L0", *BASELINES} and set(frame.user) == {0, 1}
    baselines = frame[frame.scheme.isin(BASELINES)]
    assert set(baselines.object) == {"model"} and np.isfinite(baselines.value).all()
    runs = utility_runs(frame)
    assert len(runs) == 2 * 4 and set(runs.columns) == {"arm", "user", "seed", "accuracy"}
    table = paired_table(runs).set_index("arm")
    assert table.loc["L0_L0", "pairs"] == 2 and np.isfinite(table.loc["oracle", "diff_vs_public"])
    experiment = Experiment(settings, cache=tmp_path, progress=False)
    assert len(experiment.baseline_set("oracle", 0)) == 4 * TOY.n_oracle
    test_images = {im.image.tobytes() for im in experiment.data()[1]}
    assert not test_images & {im.image.tobytes() for im in experiment.baseline_set("oracle", 0)}
