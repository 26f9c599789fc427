"""Small real data sets that ship inside installed packages (nothing is downloaded).

- :func:`photos`: four photographs from scikit-image's ``skimage.data`` with
  hand-drawn object masks (polygons and ellipses given below in pixels).
- :func:`digits`: scikit-learn's 8 x 8 handwritten digits, upsampled.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from spinml.data.references import ReferenceImage, ReferenceSet, Segment

__all__ = ["photos", "digits"]

Polygon = list[tuple[int, int]]

_PERSON: Polygon = [(195, 25), (255, 15), (300, 50), (300, 130), (285, 165), (305, 190),
                    (345, 250), (360, 320), (362, 380), (300, 380), (280, 420), (270, 512),
                    (20, 512), (25, 330), (40, 270), (110, 220), (125, 170), (160, 150),
                    (160, 100), (170, 50)]
_CAT: Polygon = [(0, 0), (330, 0), (360, 40), (390, 20), (430, 60), (420, 150), (380, 230),
                 (340, 300), (0, 300)]
_CUP: Polygon = [(172, 100), (180, 200), (195, 245), (230, 290), (250, 270), (300, 255),
                 (370, 225), (405, 170), (408, 100)]
_SPOON: Polygon = [(320, 250), (330, 300), (365, 322), (400, 300), (405, 260), (385, 235),
                   (383, 200), (418, 82), (422, 68), (408, 66), (396, 150), (375, 222), (340, 240)]
_ROCKET: Polygon = [(310, 140), (322, 125), (335, 140), (335, 390), (330, 410), (312, 410),
                    (308, 390)]


def _draw(size: tuple[int, int], polygons=(), ellipses=()) -> np.ndarray:
    """Boolean ``H x W`` mask of the union of polygons and ellipses ``(cx, cy, rx, ry)``."""
    canvas = Image.new("L", (size[1], size[0]), 0)
    pen = ImageDraw.Draw(canvas)
    for poly in polygons:
        pen.polygon(poly, fill=255)
    for cx, cy, rx, ry in ellipses:
        pen.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=255)
    return np.asarray(canvas) > 127


def _resize(ref: ReferenceImage, size: int) -> ReferenceImage:
    h, w = ref.size
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    image = np.asarray(Image.fromarray(ref.image).resize((nw, nh), Image.BILINEAR))
    segments = []
    for seg in ref.segments:
        mask = Image.fromarray(seg.mask.astype(np.uint8) * 255).resize((nw, nh), Image.NEAREST)
        mask = np.asarray(mask) > 127
        if mask.any():
            segments.append(Segment(seg.label, mask))
    return ReferenceImage(image, ref.label, tuple(segments), ref.name)


def photos(size: int | None = None) -> ReferenceSet:
    """Four real photographs with hand-made masks: a real-image set for tests and demos.

    Classes (the object each photo shows): ``person`` (astronaut), ``cat``
    (chelsea), ``cup`` (coffee), ``rocket``. The shown object is the segment
    ``target``; other objects are ``helmet``, ``saucer`` and ``spoon``. With
    ``size`` the longer side is scaled to ``size`` px (masks by nearest neighbour).
    """
    import skimage.data as sk

    astronaut, chelsea, coffee, rocket = sk.astronaut(), sk.chelsea(), sk.coffee(), sk.rocket()
    person = _draw(astronaut.shape[:2], [_PERSON])
    helmet = _draw(astronaut.shape[:2], ellipses=[(390, 445, 112, 100)]) & ~person
    cup = _draw(coffee.shape[:2], [_CUP], [(290, 110, 118, 85)])
    spoon = _draw(coffee.shape[:2], [_SPOON]) & ~cup
    saucer = _draw(coffee.shape[:2], ellipses=[(278, 242, 205, 135)]) & ~cup & ~spoon
    refs = [
        ReferenceImage(astronaut, "person",
                       (Segment("target", person), Segment("helmet", helmet)), "skimage:astronaut"),
        ReferenceImage(chelsea, "cat", (Segment("target", _draw(chelsea.shape[:2], [_CAT])),),
                       "skimage:chelsea"),
        ReferenceImage(coffee, "cup", (Segment("target", cup), Segment("saucer", saucer),
                                       Segment("spoon", spoon)), "skimage:coffee"),
        ReferenceImage(rocket, "rocket", (Segment("target", _draw(rocket.shape[:2], [_ROCKET])),),
                       "skimage:rocket"),
    ]
    if size is not None:
        if size < 8:
            raise ValueError(f"size must be >= 8 px, got {size}")
        refs = [_resize(r, size) for r in refs]
    return ReferenceSet(refs, classes=("person", "cat", "cup", "rocket"))


def digits(size: int = 32, n: int | None = None) -> ReferenceSet:
    """scikit-learn's handwritten digits as RGB images of ``size x size`` px.

    The 8 x 8 grey levels 0..16 are scaled to 0..255 (ink bright on black),
    upsampled bilinearly; the ``target`` segment is the ink (value > 0 at
    8 x 8, upsampled by nearest neighbour). Classes ``"0"`` .. ``"9"``;
    ``n`` keeps the first ``n`` of the 1,797 images.
    """
    from sklearn.datasets import load_digits

    if size < 8 or size > 512:
        raise ValueError(f"size must be in 8..512 px, got {size}")
    data = load_digits()
    count = len(data.images) if n is None else n
    if not 1 <= count <= len(data.images):
        raise ValueError(f"n must be in 1..{len(data.images)}, got {n}")
    refs = []
    for i in range(count):
        grey = (data.images[i] * (255 / 16)).round().astype(np.uint8)
        image = np.asarray(Image.fromarray(grey).resize((size, size), Image.BILINEAR))
        ink = Image.fromarray((grey > 0).astype(np.uint8) * 255).resize((size, size), Image.NEAREST)
        refs.append(ReferenceImage(np.repeat(image[:, :, None], 3, axis=2), str(data.target[i]),
                                   (Segment("target", np.asarray(ink) > 127),), f"digits:{i}"))
    return ReferenceSet(refs, classes=tuple(str(d) for d in range(10)))
