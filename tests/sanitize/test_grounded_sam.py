"""GroundedSAMSegmenter on tiny, randomly initialised Grounding DINO and SAM models.

The models are built from small configs and saved like real checkpoints, so the
segmenter goes through its real loading path. Random weights give arbitrary
boxes: with both thresholds at 0 every query box is kept, and the tests check
the contract (shapes, types, labels, determinism, errors), not the quality.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    BertConfig,
    BertTokenizer,
    GroundingDinoConfig,
    GroundingDinoForObjectDetection,
    GroundingDinoImageProcessor,
    GroundingDinoProcessor,
    ResNetConfig,
    SamConfig,
    SamImageProcessor,
    SamMaskDecoderConfig,
    SamModel,
    SamProcessor,
    SamPromptEncoderConfig,
    SamVisionConfig,
)

from spinml.data.references import Segment
from spinml.sanitize.grounded_sam import Detection, GroundedSAMSegmenter

WORDS = ["cat", "bowl", "ball", "hot", "dog"]
LABELS = ["cat", "bowl", "hot_dog"]
MAX_TEXT_LEN = 16
NUM_QUERIES = 8


def _vocab() -> list[str]:
    # Grounding DINO splits phrases at the token ids of bert-base-uncased's
    # [CLS] (101), [SEP] (102), "." (1012) and "?" (1029): keep those ids.
    vocab = [f"[unused{i}]" for i in range(1030)]
    special = {0: "[PAD]", 100: "[UNK]", 101: "[CLS]", 102: "[SEP]", 103: "[MASK]"}
    for i, token in {**special, 1012: ".", 1029: "?"}.items():
        vocab[i] = token
    for i, word in enumerate(WORDS):
        vocab[200 + i] = word
    return vocab


def _save_detector(folder: Path) -> None:
    folder.mkdir()
    (folder / "vocab.txt").write_text("\n".join(_vocab()) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"))
    backbone = ResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 8, 8, 8],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    text = BertConfig(
        vocab_size=len(_vocab()),
        hidden_size=8,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=8,
        max_position_embeddings=32,
    )
    config = GroundingDinoConfig(
        backbone_config=backbone,
        text_config=text,
        d_model=32,  # GroupNorm(32, d_model) in the input projections
        encoder_layers=1,
        decoder_layers=2,  # the box heads of the decoder layers are tied: at least 2
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        num_queries=NUM_QUERIES,
        encoder_n_points=1,
        decoder_n_points=1,
        max_text_len=MAX_TEXT_LEN,
    )
    GroundingDinoForObjectDetection(config).save_pretrained(folder)
    # 4 feature levels down to stride 64: the processed image needs >= 128 px a side
    images = GroundingDinoImageProcessor(size={"shortest_edge": 128, "longest_edge": 192})
    GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)


def _save_sam(folder: Path) -> None:
    folder.mkdir()
    config = SamConfig(
        vision_config=SamVisionConfig(
            image_size=32,
            patch_size=8,
            hidden_size=16,
            output_channels=8,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=16,
            window_size=2,
            global_attn_indexes=[0],
            num_pos_feats=4,
            mlp_dim=16,
        ),
        prompt_encoder_config=SamPromptEncoderConfig(
            image_size=32, patch_size=8, hidden_size=8, mask_input_channels=4
        ),
        mask_decoder_config=SamMaskDecoderConfig(
            hidden_size=8,
            mlp_dim=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            iou_head_hidden_dim=8,
        ),
    )
    SamModel(config).save_pretrained(folder)
    images = SamImageProcessor(
        size={"longest_edge": 32},
        pad_size={"height": 32, "width": 32},
        mask_size={"longest_edge": 8},
        mask_pad_size={"height": 8, "width": 8},
    )
    SamProcessor(image_processor=images).save_pretrained(folder)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # The tiny models are all per-op overhead: a second thread only adds contention
    # (about 10x slower on a busy 2-core machine).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("grounded_sam")
    torch.manual_seed(0)
    _save_detector(root / "detector")
    _save_sam(root / "sam")
    return root / "detector", root / "sam"


@pytest.fixture(scope="module")
def segmenter(folders: tuple[Path, Path]) -> GroundedSAMSegmenter:
    return GroundedSAMSegmenter(*folders, box_threshold=0.0, text_threshold=0.0, device="cpu")


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(40, 60, 3), dtype=np.uint8)


def _as_dict(segments: list[Segment]) -> dict[str, np.ndarray]:
    return {s.label: s.mask for s in segments}


def test_segments_are_nonempty_boolean_masks_of_requested_labels(segmenter, image):
    segments = segmenter.segment(image, [*LABELS, "background"])
    assert segments, "thresholds of 0 keep every box: something must be found"
    labels = [s.label for s in segments]
    assert len(labels) == len(set(labels))
    assert set(labels) <= set(LABELS)
    assert labels == [label for label in LABELS if label in labels]  # order asked
    for s in segments:
        assert isinstance(s, Segment)
        assert s.mask.shape == image.shape[:2]
        assert s.mask.dtype == bool
        assert s.mask.any()


def test_background_is_never_detected(segmenter, image):
    assert segmenter.segment(image, ["background"]) == []
    assert "background" not in {d.label for d in segmenter.detect(image, ["background", "cat"])}


def test_repeated_calls_and_reloading_give_the_same_masks(segmenter, folders, image):
    first = _as_dict(segmenter.segment(image, LABELS))
    second = _as_dict(segmenter.segment(image, LABELS))
    fresh = GroundedSAMSegmenter(*folders, box_threshold=0.0, text_threshold=0.0, device="cpu")
    third = _as_dict(fresh.segment(image, LABELS))
    assert first.keys() == second.keys() == third.keys()
    for label, mask in first.items():
        np.testing.assert_array_equal(mask, second[label])
        np.testing.assert_array_equal(mask, third[label])


def test_detections_are_boxes_in_the_image_best_first(segmenter, image):
    detections = segmenter.detect(image, LABELS)
    assert len(detections) == NUM_QUERIES  # thresholds of 0 keep every query box
    height, width = image.shape[:2]
    for d in detections:
        assert isinstance(d, Detection)
        assert d.label in LABELS
        assert 0.0 < d.score <= 1.0
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height
    scores = [d.score for d in detections]
    assert scores == sorted(scores, reverse=True)


def test_thresholds_filter_detections_and_segments(folders, segmenter, image):
    everything = segmenter.detect(image, LABELS)
    cut = float(np.median([d.score for d in everything]))
    strict = GroundedSAMSegmenter(*folders, box_threshold=0.0, text_threshold=cut, device="cpu")
    kept = strict.detect(image, LABELS)
    assert kept == [d for d in everything if d.score > cut]
    found = {s.label for s in strict.segment(image, LABELS)}
    assert found <= {d.label for d in kept}
    # box_threshold applies to a box's best token over the whole prompt, which is
    # at least its label's score
    boxed = GroundedSAMSegmenter(*folders, box_threshold=cut, text_threshold=0.0, device="cpu")
    assert set(kept) <= set(boxed.detect(image, LABELS)) <= set(everything)


def test_merge_unites_the_masks_of_all_boxes_of_a_label(folders, segmenter, image):
    best = _as_dict(segmenter.segment(image, LABELS))
    merging = GroundedSAMSegmenter(
        *folders, box_threshold=0.0, text_threshold=0.0, merge=True, device="cpu"
    )
    merged = _as_dict(merging.segment(image, LABELS))
    assert merged.keys() == best.keys()
    for label, mask in best.items():
        assert (merged[label] | mask == merged[label]).all()


def test_labels_are_validated(segmenter, image):
    with pytest.raises(ValueError, match="not valid"):
        segmenter.segment(image, ["a cat"])
    with pytest.raises(TypeError, match="sequence of labels"):
        segmenter.segment(image, "cat")
    with pytest.raises(ValueError, match="max_text_len"):
        segmenter.segment(image, [f"cat{i}" for i in range(MAX_TEXT_LEN)])


def test_image_is_validated(segmenter):
    with pytest.raises(ValueError, match="uint8"):
        segmenter.segment(np.zeros((8, 8, 3), dtype=np.float32), ["cat"])


@pytest.mark.parametrize("name", ["box_threshold", "text_threshold"])
@pytest.mark.parametrize("value", [-0.1, 1.0])
def test_thresholds_must_be_probabilities(folders, name, value):
    with pytest.raises(ValueError, match=name):
        GroundedSAMSegmenter(*folders, **{name: value})


def test_models_load_lazily(tmp_path, image):
    lazy = GroundedSAMSegmenter(tmp_path / "nothing", tmp_path / "nothing-either")
    assert not lazy.loaded
    assert lazy.segment(image, ["background"]) == []  # nothing to detect: nothing loaded
    assert not lazy.loaded


def test_missing_folder_is_named(folders, tmp_path, image):
    detector, sam = folders
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        GroundedSAMSegmenter(missing, sam).segment(image, ["cat"])
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        GroundedSAMSegmenter(detector, missing).load()


def test_folder_without_weights_or_config_is_refused(folders, tmp_path):
    detector, sam = folders
    no_weights = tmp_path / "no-weights"
    no_weights.mkdir()
    shutil.copy(sam / "config.json", no_weights)
    with pytest.raises(FileNotFoundError, match=r"no-weights.*model\.safetensors"):
        GroundedSAMSegmenter(detector, no_weights).load()
    no_config = tmp_path / "no-config"
    no_config.mkdir()
    shutil.copy(sam / "model.safetensors", no_config)
    with pytest.raises(FileNotFoundError, match=r"no-config.*config\.json"):
        GroundedSAMSegmenter(detector, no_config).load()


def test_folder_without_processor_is_refused(folders, tmp_path):
    detector, sam = folders
    bare = tmp_path / "bare-sam"
    bare.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(sam / name, bare)
    with pytest.raises(FileNotFoundError, match="bare-sam"):
        GroundedSAMSegmenter(detector, bare).load()
    # without its tokenizer files transformers would build a 5-token BERT tokenizer
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    for name in ("config.json", "model.safetensors", "processor_config.json"):
        shutil.copy(detector / name, no_tokenizer)
    with pytest.raises(FileNotFoundError, match=r"no-tokenizer.*tokenizer\.json"):
        GroundedSAMSegmenter(no_tokenizer, sam).load()


def test_swapped_folders_are_refused(folders):
    detector, sam = folders
    with pytest.raises(ValueError, match="expected model_type 'grounding-dino'"):
        GroundedSAMSegmenter(sam, detector).load()
