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
