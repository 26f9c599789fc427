"""The device side of SpinML: turn private references into the upload.

For every reference image the :class:`Sanitizer` splits the image into objects
(its segmenter), gives each object the level its policy says, and keeps only
what that level allows (see :mod:`spinml.data.sanitized`):

- ``L0``: the label; ``L1``: ``features(segment)``; ``L2``: the segment on black and its mask.

Where object masks overlap, a pixel belongs to the object with the lowest
level: an ``L2`` segment never carries pixels of an overlapping ``L0`` or ``L1``
object, and an ``L1`` feature map is computed without ``L0`` pixels. A soft
mask's edge counts for both the object and its surroundings, so it goes to the
stricter of them (:class:`~spinml.data.Segment`); several segments of one label
from a segmenter (instances) are merged.

By default (``l0_shape="hull"``) an ``L0`` object's outline does not leave the
device either: its neighbours lose its dilated convex hull
(:func:`~spinml.image.l0_cover`), which is filled from their own pixels by
inpainting before their features or segments are made
(:func:`~spinml.image.shared_canvases`). ``l0_shape="mask"`` is the paper's
plain masking: neighbours are cut exactly along the ``L0`` object's mask, so
an L1 edge map traces its outline and an L2 mask is its complement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from tqdm.auto import tqdm

from spinml.data.references import BACKGROUND, ReferenceImage, ReferenceSet, merge_segments
from spinml.data.sanitized import SanitizedImage, SanitizedSet, SharedObject
from spinml.image import L0_SHAPES, lowest_level_wins, shared_canvases
from spinml.policy import Level, SharingPolicy
from spinml.sanitize.features import FeatureExtractor, get_feature_extractor
from spinml.sanitize.segmenters import GivenMasks, Segmenter

__all__ = ["Sanitizer"]


class Sanitizer:
    """Apply a :class:`~spinml.SharingPolicy` to a :class:`~spinml.ReferenceSet`.

    Parameters
    ----------
    segmenter:
        Where object masks come from: :class:`GivenMasks` (default: the masks
        stored with the references), a :class:`SuperpixelSegmenter`, a
        ``GroundedSAMSegmenter`` or anything with ``segment(image, labels)``.
    features:
        The L1 feature extractor: a name (``"canny"``), an extractor, or a
        mapping from object label to either (objects it does not name use
        ``"canny"``).
    objects:
        Further object labels to look for in every image, besides those the
        references carry and the policy names (e.g. text prompts for a
        detector). An object found is removed from the background and shared
        at its policy level, the default (L0) when the policy does not name it.
    l0_shape:
        ``"hull"`` (default): neighbours never show an ``L0`` object's outline
        (see the module); ``"mask"``: the paper's plain masking. Recorded in
        the upload (``SanitizedSet.l0_shape``).
    """

    def __init__(
        self,
        segmenter: Segmenter | GivenMasks | None = None,
        features: str | FeatureExtractor | Mapping[str, str | FeatureExtractor] = "canny",
        objects: Sequence[str] = (),
        l0_shape: str = "hull",
    ) -> None:
        if l0_shape not in L0_SHAPES:
            raise ValueError(f"l0_shape: expected one of {L0_SHAPES}, got {l0_shape!r}")
        self.segmenter = segmenter
        self.features = features
        self.objects = objects
        self.l0_shape = l0_shape

    def _extractor(self, label: str) -> FeatureExtractor:
        spec = self.features
        if isinstance(spec, Mapping):
            spec = spec.get(label, "canny")
        return get_feature_extractor(spec)

    def object_masks(
        self, reference: ReferenceImage, policy: SharingPolicy
    ) -> dict[str, np.ndarray]:
        """Object label -> the pixels it owns in ``reference``, background included.

        A pixel claimed by several objects stays only with those of the lowest
        level among them (:func:`~spinml.image.lowest_level_wins`, with this
        sanitizer's ``l0_shape``). The background is the image minus every
        other object's core unless the references carry a background mask of
        their own.
        """
        segmenter = self.segmenter or GivenMasks()
        labels = list(dict.fromkeys([*reference.objects, *policy, *self.objects]))
        if isinstance(segmenter, GivenMasks):
            segments = segmenter.segment_reference(reference, labels)
        else:
            segments = segmenter.segment(reference.image, labels)
        try:
            segments = [s for s in merge_segments(segments) if s.label != BACKGROUND]
        except (TypeError, ValueError) as err:
            raise ValueError(f"image {reference.name}: the segmenter's output: {err}") from None
        for seg in segments:
            if seg.mask.shape != reference.size:
                raise ValueError(
                    f"image {reference.name}: the segmenter's mask of {seg.label!r} is "
                    f"{seg.mask.shape}, the image is {reference.size}"
                )
        if BACKGROUND in reference.objects:
            background = reference.mask(BACKGROUND)
        else:
            background = ~np.logical_or.reduce([s.core for s in segments]
                                               + [np.zeros(reference.size, bool)])
        masks = {s.label: s.mask for s in segments}
        return lowest_level_wins(masks, {label: policy[label] for label in [*masks, BACKGROUND]},
                                 background=background, size=reference.size,
                                 l0_shape=self.l0_shape)

    def sanitize_image(
        self, reference: ReferenceImage, policy: SharingPolicy, image_id: str
    ) -> SanitizedImage:
        """Sanitise one reference image; ``image_id`` replaces its (private) name."""
        owned = self.object_masks(reference, policy)
        levels = {label: policy[label] for label in owned}
        shares = shared_canvases(reference.image, owned, levels, l0_shape=self.l0_shape)
        objects = []
        for label in owned:
            level = policy[label]
            if level == Level.L0:
                objects.append(SharedObject(label, level))
                continue
            region, canvas = shares[label]
            if level == Level.L1:
                extractor = self._extractor(label)
                objects.append(SharedObject(label, level, feature=extractor(canvas),
                                            feature_kind=extractor.kind))
            else:
                objects.append(SharedObject(label, level, segment=canvas, mask=region))
        return SanitizedImage(image_id, reference.label, reference.size, tuple(objects))

    def sanitize(
        self,
        references: ReferenceSet,
        policy: SharingPolicy | Mapping | str,
        *,
        progress: bool = True,
    ) -> SanitizedSet:
        """The upload for ``references`` under ``policy``.

        Images get anonymous ids ``0000, 0001, ...`` in the order of ``references``.
        Raises ``ValueError`` when the policy names an object found in no image.
        """
        if not isinstance(references, ReferenceSet):
            raise TypeError(f"references: expected a ReferenceSet, got {type(references).__name__}")
        if not len(references):
            raise ValueError("references: the ReferenceSet is empty")
        policy = SharingPolicy.coerce(policy)
        images = [
            self.sanitize_image(ref, policy, f"{i:04d}")
            for i, ref in enumerate(tqdm(references, desc="sanitise", disable=not progress))
        ]
        found = {o.label for im in images for o in im.objects}
        unknown = sorted(set(policy) - found)
        if unknown:
            raise ValueError(
                f"policy names objects {unknown} that no reference image has; "
                f"objects found: {sorted(found)}"
            )
        return SanitizedSet(images, references.classes, policy, l0_shape=self.l0_shape)

    def __repr__(self) -> str:
        return (f"Sanitizer(segmenter={self.segmenter!r}, features={self.features!r}, "
                f"objects={list(self.objects)!r}, l0_shape={self.l0_shape!r})")
