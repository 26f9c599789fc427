"""Captions and identities of mini-world renders."""

import numpy as np
import pytest

from spinml.data import ReferenceImage
from spinml.data import miniworld as mw


def test_labels_and_captions(home):
    refs, test = mw.user(2, n_ref=1, n_test=1)
    assert refs.labels == list(mw.ACTIVITIES)
    texts = mw.captions(refs)
    for text, image in zip(texts, refs, strict=True):
        assert text.startswith("a photo of a ") and f"creature {image.label} in" in text
        assert set(text.split()) <= set(mw.VOCABULARY)
        assert image.caption == text
    assert len(set(mw.identities(refs))) == 1
    pet, room = home
    assert mw.caption(pet, room, "sitting") == mw.render(pet, room, "sitting", seed=0).caption
    with pytest.raises(ValueError, match="caption"):
        mw.captions([ReferenceImage(np.zeros((4, 4, 3), np.uint8), "x")])


def test_caption_refuses_an_unknown_activity(home):
    with pytest.raises(ValueError, match="activity must be one of"):
        mw.caption(*home, "running")
