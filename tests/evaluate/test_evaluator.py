"""The Evaluator and RunMetrics: utility, MI of the upload, synthetic-set privacy (per object,
or on whole images for a set without objects such as BN inversion's), refusals."""

import numpy as np
import pytest

from spinml.data import SyntheticImage, SyntheticSet, miniworld
from spinml.evaluate import COLUMNS, WHOLE, Evaluator, RunMetrics, features, leakage_table
from spinml.evaluate.similarity import mean_cosine
from spinml.generate import BNInversionGenerator
from spinml.sanitize import Sanitizer
from spinml.train import Trainer


def test_evaluator_refuses_a_test_set_of_other_classes():
    refs, test = miniworld.user(1, n_ref=1, n_test=2, size=16)
    model = Trainer(arch="resnet20", epochs=1, batch_size=8, progress=False).fit(refs)
    other = test.subset([i for i, im in enumerate(test) if im.label != "eating"])
    other.classes = tuple(c for c in test.classes if c != "eating")
    with pytest.raises(ValueError, match="differ from the test set"):
        Evaluator(refs, other).evaluate(model=model)


def test_adapted_evaluation_is_the_model_adapted_to_the_references():
    refs, test = miniworld.user(1, n_ref=2, n_test=3, size=16)
    model = Trainer(arch="resnet20", epochs=1, batch_size=8, progress=False).fit(refs)
    plain = Evaluator(refs, test).evaluate(model=model).values["model", "accuracy"]
    adapted = Evaluator(refs, test, adapt=True).evaluate(model=model).values["model", "accuracy"]
    assert plain == model.score(test)
    assert adapted == model.adapt(refs).score(test)


def test_run_metrics_are_tidy():
    metrics = RunMetrics("L2_L0", 0.5, 3, {("model", "accuracy"): 0.75, ("target", "mi"): 0.1})
    frame = metrics.to_frame()
    assert list(frame.columns) == COLUMNS
    assert frame.values.tolist() == [["L2_L0", "L2", "L0", 0.5, "model", "accuracy", 3, 0.75],
                                     ["L2_L0", "L2", "L0", 0.5, "target", "mi", 3, 0.1]]
    assert RunMetrics("real", 0.0, 0).to_frame().empty
    assert RunMetrics("real", 0.0, 0, {("model", "accuracy"): 1.0}).to_frame().loc[
        0, ["target_level", "background_level"]].tolist() == ["real", "real"]


def test_upload_mi_is_the_leakage_tables_mean_per_object():
    refs, test = miniworld.user(2, n_ref=1, n_test=1, size=32)
    upload = Sanitizer().sanitize(refs, "target=L2,background=L0", progress=False)
    metrics = Evaluator(refs, test).evaluate(sanitized=upload)
    table = leakage_table(upload, refs)
    assert metrics.scheme == "L2_L0"
    for obj in ("target", "background"):
        expected = table[table.object == obj].value.mean()
        assert metrics.values[obj, "mi"] == pytest.approx(expected)
    assert metrics.values["background", "mi"] == 0.0 < metrics.values["target", "mi"]


def test_refused_inputs():
    refs, test = miniworld.user(2, n_ref=1, n_test=1, size=32)
    with pytest.raises(TypeError, match="ReferenceSet"):
        Evaluator(refs.to_arrays(), test)
    with pytest.raises(ValueError, match="at least one"):
        Evaluator(refs.subset([]), test)
    with pytest.raises(TypeError, match="SanitizedSet"):
        Evaluator(refs, test).evaluate(sanitized=refs)


def test_copied_references_are_memorised_members():
    refs, test = miniworld.user(2, n_ref=1, n_test=1, size=32)
    copies = SyntheticSet([SyntheticImage(im.image, im.label, mask=im.mask("target"))
                           for im in refs], refs.classes)
    values = Evaluator(refs, test).evaluate(synthetic=copies, scheme="copy").values
    assert values["target", "memorisation_pixel"] == pytest.approx(0.0, abs=1e-6)
    assert values["target", "memorisation_encoder"] == pytest.approx(0.0, abs=1e-3)
    assert values["target", "mia_auc"] == 1.0
    assert values["target", "mia_tpr_at_1pct_fpr"] == 1.0
    assert {metric for _, metric in values} == {"sim", "memorisation_encoder",
                                                 "memorisation_pixel", "mia_auc",
                                                 "mia_tpr_at_1pct_fpr"}


@pytest.fixture(scope="module")
def user():
    refs, test = miniworld.user(2, n_ref=2, n_test=2, size=16)
    teacher = Trainer("resnet20", epochs=1, batch_size=8, progress=False).fit(refs)
    return refs, test, teacher


def test_bn_inversion_images_get_utility_and_whole_image_privacy(user, encoder):
    refs, test, teacher = user
    synthetic = BNInversionGenerator(steps=2, batch_size=8, progress=False).fit(
        teacher).generate(n_per_class=2, seed=0)
    assert all(im.mask is None for im in synthetic)
    report = Evaluator(refs, test, encoder=encoder).evaluate(
        model=teacher, synthetic=synthetic, scheme="bn_inversion_K2")
    frame = report.to_frame()
    assert set(frame.object) == {"model", WHOLE}
    assert set(frame[frame.object == WHOLE].metric) == {
        "sim", "memorisation_encoder", "memorisation_pixel", "mia_auc", "mia_tpr_at_1pct_fpr"}
    assert np.isfinite(frame.value).all()
    assert report.values["model", "accuracy"] == teacher.score(test)
    whole = np.stack([im.image for im in refs])
    expected = mean_cosine(features(synthetic.to_arrays()[0], encoder), features(whole, encoder))
    assert report.values[WHOLE, "sim"] == pytest.approx(expected, abs=1e-6)


def test_a_set_with_masks_on_some_images_only_is_refused(user, encoder):
    refs, test, _ = user
    image = np.zeros((16, 16, 3), np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:8, 4:8] = True
    mixed = SyntheticSet([SyntheticImage(image, refs.classes[0], mask=mask),
                          SyntheticImage(image, refs.classes[0])], classes=refs.classes)
    with pytest.raises(ValueError, match="1 of 2 synthetic images have no target mask"):
        Evaluator(refs, test, encoder=encoder).evaluate(synthetic=mixed)
