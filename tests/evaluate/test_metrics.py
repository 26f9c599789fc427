"""SIM, memorisation distance and membership AUC against direct computations."""

import numpy as np
import pytest
from transformers import BertConfig, BertModel

from spinml.evaluate import (
    ImageEncoder,
    features,
    membership_auc,
    memorisation_distance,
    nearest_distances,
    similarity,
)


@pytest.fixture(scope="module")
def encoder():
    return ImageEncoder()


def images(seed, n=6, size=32):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_nearest_distances_match_a_double_loop():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    direct = [min(np.linalg.norm(a - b) for b in r) for a in q]
    np.testing.assert_allclose(nearest_distances(q, r), direct, rtol=1e-9)


def test_pixel_memorisation_is_the_rms_difference_to_the_closest_reference():
    synthetic, refs = images(1, 3), images(2, 5)
    direct = np.mean([min(np.sqrt(np.mean((s / 255.0 - r / 255.0) ** 2)) for r in refs)
                      for s in synthetic])
    assert memorisation_distance(synthetic, refs) == pytest.approx(direct, rel=1e-6)
    assert memorisation_distance(refs[:2], refs) == pytest.approx(0.0, abs=1e-6)


def test_similarity_is_the_mean_of_the_cosine_matrix(encoder):
    a, b = images(3), images(4, 5)
    ea, eb = encoder.embed(a), encoder.embed(b)
    np.testing.assert_allclose(np.linalg.norm(ea, axis=1), 1.0, rtol=1e-5)
    assert similarity(a, b, encoder) == pytest.approx(float((ea @ eb.T).mean()), rel=1e-5)


def test_membership_auc_separates_copied_members_and_is_chance_for_strangers(encoder):
    members, others = images(5, 8), images(6, 8)
    assert membership_auc(members, others, members.copy()) == 1.0
    assert membership_auc(members, others, others.copy()) == 0.0
    strangers = images(7, 8)
    assert 0.2 < membership_auc(members, others, strangers, encoder) < 0.8


def test_feature_rows_of_one_image_size_only():
    with pytest.raises(ValueError, match="differ"):
        nearest_distances(features(images(1, size=16)), features(images(2, size=32)))


def test_encoder_folder_without_image_features_is_refused(tmp_path):
    BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no get_image_features"):
        ImageEncoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        ImageEncoder(tmp_path / "missing")
