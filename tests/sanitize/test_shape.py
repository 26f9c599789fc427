"""Shape privacy of L0 objects: by default no neighbour's share outlines them.

The issue's example: a star-shaped pet of its room's colour, so the photo
itself has no edge at all; only the cut-out could draw one.
"""

import cv2
import numpy as np
import pytest

from spinml import Level, ReferenceSet, SanitizedSet, Sanitizer
from spinml.data import ReferenceImage, Segment
from spinml.image import l0_cover, lowest_level_wins

ROOM = (150, 120, 90)


def star(size=64):
    centre = size / 2
    angles = np.arange(10) * np.pi / 5 - np.pi / 2
    radii = np.where(np.arange(10) % 2 == 0, size * 0.4, size * 0.16)
    points = np.stack([centre + radii * np.cos(angles), centre + radii * np.sin(angles)], 1)
    mask = np.zeros((size, size), np.uint8)
    cv2.fillPoly(mask, [points.round().astype(np.int32)], 1)
    return mask.astype(bool)


def _refs(mask, image=None):
    image = np.full((*mask.shape, 3), ROOM, np.uint8) if image is None else image
    return ReferenceSet([ReferenceImage(image, "a", (Segment("target", mask),), "star")])


def test_plain_masking_outlines_the_l0_star_and_the_default_does_not():
    pet, refs = star(), _refs(star())
    plain = Sanitizer(l0_shape="mask")
    edges = plain.sanitize(refs, "target=L0,background=L1", progress=False)[0]
    edges = edges.object("background").feature > 0
    assert edges.sum() > 100 and (cv2.dilate(pet.astype(np.uint8), np.ones((3, 3))) > 0)[
        edges].all()
    upload = plain.sanitize(refs, "target=L0,background=L2", progress=False)
    assert np.array_equal(upload[0].object("background").mask, ~pet)

    edges = Sanitizer().sanitize(refs, "target=L0,background=L1", progress=False)[0]
    assert not edges.object("background").feature.any()
    background = Sanitizer().sanitize(refs, "target=L0,background=L2", progress=False)[0]
    background = background.object("background")
    assert background.mask.all() and (background.segment == ROOM).all()


def test_the_upload_depends_on_an_l0_shape_only_through_its_cover():
    """A star and a fat pentagon inside the same hull give the same upload, on a
    textured room; under plain masking they do not."""
    pet = star()
    hull = np.zeros(pet.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero(pet.astype(np.uint8))), 1)
    pentagon = pet | (cv2.erode(hull, np.ones((5, 5), np.uint8)) > 0)
    assert (pentagon & ~pet).sum() > 300
    assert np.array_equal(l0_cover(pet), l0_cover(pentagon))
    room = np.random.default_rng(0).integers(0, 256, (*pet.shape, 3), dtype=np.uint8)
    for policy in ("target=L0,background=L1", "target=L0,background=L2"):
        for l0_shape, same in (("hull", True), ("mask", False)):
            sanitizer = Sanitizer(l0_shape=l0_shape)
            a, b = (sanitizer.sanitize(_refs(m, room), policy, progress=False)[0]
                    .object("background") for m in (pet, pentagon))
            parts = ("feature", "segment", "mask")
            assert all(np.array_equal(getattr(a, p), getattr(b, p)) for p in parts) == same


def test_the_cover_holds_the_object_and_is_convex_per_part():
    mask = np.zeros((64, 64), bool)
    mask[5:10, 5:30] = mask[5:30, 5:10] = True
    mask[50:55, 50:55] = True
    cover = l0_cover(mask)
    assert (cover >= mask).all()
    n, labels = cv2.connectedComponents(cover.astype(np.uint8))
    assert n - 1 == 2
    for k in (1, 2):
        part = (labels == k).astype(np.uint8)
        hull = np.zeros_like(part)
        cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero(part)), 1)
        assert np.array_equal(hull, part)


def test_an_l0_prop_is_cut_out_of_every_neighbour_and_the_choice_is_recorded(tmp_path):
    image = np.random.default_rng(1).integers(0, 256, (48, 48, 3), dtype=np.uint8)
    target, bowl = np.zeros((48, 48), bool), np.zeros((48, 48), bool)
    target[5:30, 5:30] = True
    bowl[25:40, 25:40] = True
    refs = ReferenceSet([ReferenceImage(image, "a", (Segment("target", target),
                                                      Segment("bowl", bowl)))])
    upload = Sanitizer().sanitize(refs, "target=L2,bowl=L0,background=L2", progress=False)
    cover = l0_cover(bowl)
    for label in ("target", "background"):
        obj = upload[0].object(label)
        real = obj.mask & ~cover
        assert np.array_equal(obj.segment[real], image[real])
    masks = [upload[0].object(label).mask for label in ("target", "background")]
    assert (masks[0] | masks[1]).all()
    assert upload.l0_shape == "hull"
    assert SanitizedSet.load(upload.save(tmp_path / "u")).l0_shape == "hull"
    plain = Sanitizer(l0_shape="mask").sanitize(refs, "bowl=L0", progress=False)
    assert SanitizedSet.load(plain.save(tmp_path / "p")).l0_shape == "mask"
    assert plain[0].object("bowl").level == Level.L0
    with pytest.raises(ValueError, match="l0_shape.*'box'"):
        Sanitizer(l0_shape="box")


def test_lowest_level_wins_gives_an_l0_objects_cover_to_it_alone():
    pet, bowl = np.zeros((32, 32), bool), np.zeros((32, 32), bool)
    pet[10:20, 10:12] = pet[10:12, 10:20] = True
    bowl[12:20, 12:20] = True
    levels = {"target": 0, "bowl": 2, "background": 1}
    plain = lowest_level_wins({"target": pet, "bowl": bowl}, levels, size=(32, 32))
    assert np.array_equal(plain["bowl"], bowl) and np.array_equal(plain["target"], pet)
    hull = lowest_level_wins({"target": pet, "bowl": bowl}, levels, size=(32, 32),
                             l0_shape="hull")
    cover = l0_cover(pet)
    assert np.array_equal(hull["target"], cover)
    assert np.array_equal(hull["bowl"], bowl & ~cover)
    assert np.array_equal(hull["background"], ~(cover | bowl))
