"""The Evaluator and RunMetrics: utility, MI of the upload, synthetic-set privacy, refusals."""

import pytest

from spinml.data import SyntheticImage, SyntheticSet, miniworld
from spinml.evaluate import COLUMNS, Evaluator, RunMetrics, leakage_table
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
    unmasked = SyntheticSet([SyntheticImage(refs[0].image, refs[0].label)], refs.classes)
    with pytest.raises(ValueError, match="need target masks"):
        Evaluator(refs, test).evaluate(synthetic=unmasked)


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
