"""The image encoder refuses folders it cannot use."""

import pytest
from transformers import BertConfig, BertModel

from spinml.evaluate import ImageEncoder


def test_encoder_folder_without_image_features_is_refused(tmp_path):
    BertModel(BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, vocab_size=50)).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="no get_image_features"):
        ImageEncoder(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        ImageEncoder(tmp_path / "missing")


def test_loading_is_quiet_without_progress(capsys):
    """Under ``progress=False`` (pool workers, papermill) the encoder loads without
    transformers' bar, and the process-wide bar switch is left on."""
    from transformers.utils import logging as transformers_logging

    assert transformers_logging.is_progress_bar_enabled()
    ImageEncoder(progress=False)
    assert "Loading weights" not in capsys.readouterr().err
    assert transformers_logging.is_progress_bar_enabled()
    ImageEncoder(progress=True)
    assert "Loading weights" in capsys.readouterr().err
