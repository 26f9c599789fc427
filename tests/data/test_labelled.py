"""LabelledSet and labelled_arrays: stacking, class indices, item type, subsets."""

from dataclasses import dataclass

import numpy as np
import pytest

from spinml.data.labelled import LabelledSet, labelled_arrays


@dataclass
class Item:
    image: np.ndarray
    label: str


class Items(LabelledSet[Item]):
    item_type = Item


def items(*labels: str, size: int = 3) -> list[Item]:
    return [Item(np.full((size, size, 3), i, np.uint8), lab) for i, lab in enumerate(labels)]


def test_labelled_arrays_stack_images_and_index_labels():
    X, y = labelled_arrays([np.zeros((2, 3, 3), np.uint8), np.ones((2, 3, 3), np.uint8)],
                           ["b", "a"], ["a", "b"])
    assert X.shape == (2, 2, 3, 3) and X.dtype == np.uint8 and X[1].max() == 1
    assert y.tolist() == [1, 0] and y.dtype == np.int64
    with pytest.raises(ValueError, match="no images"):
        labelled_arrays([], [], ["a"])
    with pytest.raises(ValueError, match="different sizes"):
        labelled_arrays([np.zeros((2, 2, 3)), np.zeros((3, 2, 3))], ["a", "a"], ["a"])


def test_classes_are_sorted_found_labels_unless_given():
    found = Items(items("sit", "eat", "sit"))
    assert found.classes == ("eat", "sit") and found.labels == ["sit", "eat", "sit"]
    given = Items(items("sit"), classes=("sit", "eat"))
    assert given.classes == ("sit", "eat") and given.to_arrays()[1].tolist() == [0]
    with pytest.raises(ValueError, match=r"labels \['run'\] not in classes"):
        Items(items("run"), classes=("sit",))


def test_sequence_protocol_subset_and_item_type():
    s = Items(items("a", "b", "c"))
    assert len(s) == 3 and [im.label for im in s] == ["a", "b", "c"] and s[1].label == "b"
    sub = s.subset([2, 0])
    assert type(sub) is Items and sub.labels == ["c", "a"] and sub.classes == s.classes
    X, y = sub.to_arrays()
    assert X[:, 0, 0, 0].tolist() == [2, 0] and y.tolist() == [2, 0]
    assert repr(s) == "Items(3 images, classes=['a', 'b', 'c'])"
    with pytest.raises(TypeError, match="Items holds Item objects, got str"):
        Items(["not an item"])
