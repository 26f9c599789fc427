"""What every image set of spinml shares: a list of labelled images and the task's classes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Generic, TypeVar

import numpy as np

__all__ = ["LabelledSet", "labelled_arrays"]

Item = TypeVar("Item")


def labelled_arrays(
    images: Sequence[np.ndarray], labels: Sequence[str], classes: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Stack images of one size into ``(N, H, W, 3)`` uint8 and labels into int64 indices."""
    if not images:
        raise ValueError("no images to stack")
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise ValueError(f"images have different sizes {sorted(shapes)}: resize them first")
    index = {c: i for i, c in enumerate(classes)}
    return np.stack(images), np.array([index[lab] for lab in labels], dtype=np.int64)


class LabelledSet(Generic[Item]):
    """Images with a ``label`` each, and ``classes``: the task's labels in order
    (sorted found labels when not given). Subclasses name their item type."""

    item_type: type = object

    def __init__(self, images: Iterable[Item], classes: Sequence[str] = ()) -> None:
        self.images: list[Item] = list(images)
        name = type(self).__name__
        for im in self.images:
            if not isinstance(im, self.item_type):
                raise TypeError(f"{name} holds {self.item_type.__name__} objects, "
                                f"got {type(im).__name__}")
        found = tuple(dict.fromkeys(im.label for im in self.images))
        self.classes: tuple[str, ...] = tuple(classes) or tuple(sorted(found))
        unknown = set(found) - set(self.classes)
        if unknown:
            raise ValueError(f"images have labels {sorted(unknown)} not in classes {self.classes}")

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[Item]:
        return iter(self.images)

    def __getitem__(self, index: int) -> Item:
        return self.images[index]

    @property
    def labels(self) -> list[str]:
        return [im.label for im in self.images]

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)``: images ``(N, H, W, 3)`` uint8 and class indices into ``classes``."""
        return labelled_arrays([im.image for im in self.images], self.labels, self.classes)

    def subset(self, indices: Iterable[int]):
        """The images at ``indices``, with the same classes."""
        return type(self)([self.images[i] for i in indices], classes=self.classes)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images, classes={list(self.classes)})"
