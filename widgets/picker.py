"""The object picker: choose, object by object, what may leave the device.

>>> from spinml.data import miniworld
>>> from spinml.widgets import ObjectPicker
>>> references, _ = miniworld.user(0, n_ref=1, n_test=0)
>>> picker = ObjectPicker(references, "target=L2,background=L1")
>>> picker.selectors["background"].value = "L0"      # what a click on L0 does
>>> picker.policy.scheme, picker.sanitized.scheme
('L2_L0', 'L2_L0')

The picker shows every reference image with its objects outlined, a
``L0``/``L1``/``L2`` selector per object, and the image being edited as a grid
of clickable cells over the foundation's :class:`~spinml.sanitize.SuperpixelSegmenter`:
a click on a cell toggles the superpixel under the cell's centre in the object
being painted (a new object, or an existing one to merge it into; the pixel
leaves every other object). Its preview shows, for the image being edited,
exactly the arrays of :attr:`ObjectPicker.sanitized`, which the
:class:`~spinml.Sanitizer` itself computes on every change. Observe the traits
``policy`` and ``sanitized`` (``picker.observe(f, names="policy")``).
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import numpy as np
import traitlets

from spinml.data.imageio import encode_png
from spinml.data.references import BACKGROUND, ReferenceImage, ReferenceSet, Segment
from spinml.data.sanitized import SanitizedSet
from spinml.policy import Level, SharingPolicy, check_label
from spinml.sanitize import Sanitizer, SuperpixelSegmenter

from .render import colour, outlined, shared_pixels

__all__ = ["ObjectPicker"]

_LEVELS = [level.name for level in Level]
_UPLOADED = {Level.L0: "the label only", Level.L1: "feature map", Level.L2: "pixels + mask"}


class ObjectPicker(widgets.VBox):
    """Pick objects and their sharing levels; preview and produce the upload.

    Parameters
    ----------
    references:
        The private images (with their given object masks, if any).
    policy:
        The starting policy (a :class:`~spinml.SharingPolicy`, dict or string
        such as ``"target=L2,background=L1"``); every object it names must be
        among the references' objects. Objects it does not name start at its default.
    features:
        The L1 feature extractor, passed to the :class:`~spinml.Sanitizer`.
    segmenter:
        The superpixel segmenter clicks select from (default: 100 SLIC superpixels).
    grid:
        Clickable cells per side of the image being edited.
    size:
        Width in pixels of the image being edited on screen.

    Attributes
    ----------
    original, references:
        The references as given, and with the clicked objects (what is sanitised).
    selectors:
        Object label -> its ``L0``/``L1``/``L2`` ``ToggleButtons``.
    image, paint, new_object, add_button, cells:
        The image being edited, the object clicks paint, the new object's name
        and its button, and the grid of clickable cells (``cells[row][col]``).
    preview_images:
        Object label -> the ``Image`` showing its upload for the image being edited.
    """

    policy = traitlets.Instance(SharingPolicy)
    """The current :class:`~spinml.SharingPolicy` (objects without pixels are left out)."""
    sanitized = traitlets.Instance(SanitizedSet, allow_none=True)
    """What the device would upload now: ``Sanitizer.sanitize(self.references, self.policy)``."""

    def __init__(
        self,
        references: ReferenceSet,
        policy: SharingPolicy | dict | str = "",
        *,
        features: str = "canny",
        segmenter: SuperpixelSegmenter | None = None,
        grid: int = 16,
        size: int = 320,
    ) -> None:
        super().__init__()
        if not isinstance(references, ReferenceSet) or not len(references):
            raise ValueError("references: expected a non-empty ReferenceSet")
        start = SharingPolicy.coerce(policy)
        unknown = sorted(set(start) - set(references.objects))
        if unknown:
            raise ValueError(f"policy names objects {unknown} that no reference image has; "
                             f"objects: {list(references.objects)}")
        self.original = references
        self.references = references
        self.segmenter = segmenter or SuperpixelSegmenter(n_segments=100)
        self.sanitizer = Sanitizer(features=features)
        self._start = start
        self._grid = max(1, min(grid, *references[0].size))
        self._size = size

        self.selectors: dict[str, widgets.ToggleButtons] = {}
        self._selector_box = widgets.VBox()
        self.image = widgets.Dropdown(
            options=[(f"{i}: {ref.label}", i) for i, ref in enumerate(references)],
            description="image")
        self.paint = widgets.Dropdown(description="paint")
        self.new_object = widgets.Text(placeholder="new object, e.g. bowl")
        self.add_button = widgets.Button(description="add object")
        self.message = widgets.HTML()
        self.gallery = [widgets.Image(format="png", layout=widgets.Layout(width="96px"))
                        for _ in references]
        self.canvas = widgets.Image(format="png")
        self.cells = [[self._cell(r, c) for c in range(self._grid)] for r in range(self._grid)]
        self.preview = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.preview_images: dict[str, widgets.Image] = {}
        self.summary = widgets.HTML()

        for label in references.objects:
            self._add_selector(label)
        self.add_button.on_click(lambda _: self.add_object(self.new_object.value.strip()))
        self.children = self._layout()
        self._update()
        self.image.observe(lambda _: self._draw_image(), names="value")
        self.paint.observe(lambda _: self._draw_image(), names="value")

    # ------------------------------------------------------------------ layout
    def _cell(self, row: int, col: int) -> widgets.Button:
        button = widgets.Button(
            layout=widgets.Layout(width="auto", height="auto", min_width="0", min_height="0",
                                  margin="0", padding="0", border="none",
                                  grid_area=f"{row + 1} / {col + 1}"),
            style=widgets.ButtonStyle(button_color="transparent"))
        button.on_click(lambda _: self._toggle(row, col))
        return button

    def _layout(self) -> tuple[widgets.Widget, ...]:
        height, width = self.original[0].size
        side = f"{self._size}px", f"{round(self._size * height / width)}px"
        # grid_area, not grid_row/grid_column: the front end's layout view removes
        # the grid-area shorthand after setting those, which resets them.
        self.canvas.layout = widgets.Layout(
            width="100%", height="100%", grid_area=f"1 / 1 / span {self._grid} / span {self._grid}")
        canvas = widgets.GridBox(
            [self.canvas, *(b for row in self.cells for b in row)],
            layout=widgets.Layout(width=side[0], height=side[1], flex="0 0 auto",
                                  overflow="hidden",
                                  grid_template_columns=f"repeat({self._grid}, 1fr)",
                                  grid_template_rows=f"repeat({self._grid}, 1fr)"))
        thumbs = [widgets.VBox([im, widgets.Label(f"{i}: {ref.label}")])
                  for i, (im, ref) in enumerate(zip(self.gallery, self.original, strict=True))]
        heading = widgets.HTML
        return (
            heading("<b>References</b> (objects outlined; they stay on this device)"),
            widgets.HBox(thumbs, layout=widgets.Layout(flex_flow="row wrap")),
            heading("<b>Sharing level per object</b>: L0 nothing, L1 features, L2 pixels"),
            self._selector_box,
            heading("<b>Edit objects</b>: click superpixels to add them to the painted object "
                    "(click again to remove)"),
            widgets.HBox([self.image, self.paint, self.new_object, self.add_button]),
            self.message,
            widgets.HBox([canvas, widgets.VBox([
                heading("<b>Preview</b>: what this image's upload contains"), self.preview])]),
            self.summary,
        )

    def _add_selector(self, label: str) -> None:
        selector = widgets.ToggleButtons(
            options=_LEVELS, value=self._start[label].name, description=label,
            style={"description_width": "initial", "button_width": "48px"})
        selector.observe(lambda _: self._update(), names="value")
        self.selectors[label] = selector
        self._selector_box.children = tuple(self.selectors.values())
        painted = self.paint.value
        self.paint.options = [o for o in self.selectors if o != BACKGROUND]
        self.paint.value = painted or next(iter(self.paint.options), None)

    # ----------------------------------------------------------------- actions
    def add_object(self, label: str) -> None:
        """Add a new object ``label`` (level: the policy default) and paint it next."""
        try:
            check_label(label, what="new object label")
            if label == BACKGROUND or label in self.selectors:
                raise ValueError(f"object {label!r} exists already: choose it under 'paint'")
        except ValueError as err:
            self.message.value = f"<span style='color:#b00'>{err}</span>"
            return
        self._add_selector(label)
        self.paint.value = label
        self.new_object.value = ""
        self.message.value = f"click superpixels to give {label!r} its pixels"

    def _toggle(self, row: int, col: int) -> None:
        label = self.paint.value
        if label is None:
            self.message.value = "<span style='color:#b00'>add an object to paint first</span>"
            return
        image = self.original[self.image.value].image
        height, width = image.shape[:2]
        y = int((row + 0.5) * height / self._grid)
        x = int((col + 0.5) * width / self._grid)
        superpixel = int(self.segmenter.superpixels(image)[y, x])
        if superpixel in self.segmenter.selection(image).get(label, set()):
            self.segmenter.deselect(image, label, [superpixel])
        else:
            self.segmenter.select(image, label, [superpixel])
        self.message.value = ""
        self._update()

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the upload folder (:meth:`SanitizedSet.save`) of the current choice."""
        return self.sanitized.save(folder, overwrite=overwrite)

    # ------------------------------------------------------------------- state
    def _edited(self, reference: ReferenceImage) -> ReferenceImage:
        """``reference`` with the clicked superpixels moved into their objects."""
        chosen = self.segmenter.selection(reference.image)
        if not chosen:
            return reference
        masks = {s.label: s.mask.copy() for s in reference.segments}
        for segment in self.segmenter.segment(reference.image, list(chosen)):
            for mask in masks.values():
                mask &= ~segment.mask
            masks[segment.label] = masks.get(segment.label, False) | segment.mask
        segments = tuple(Segment(label, m) for label, m in masks.items() if m.any())
        return ReferenceImage(reference.image, reference.label, segments, reference.name)

    def _update(self) -> None:
        references = ReferenceSet([self._edited(r) for r in self.original],
                                  classes=self.original.classes)
        policy = SharingPolicy({label: self.selectors[label].value for label in references.objects},
                               default=self._start.default)
        self.references = references
        self.sanitized = self.sanitizer.sanitize(references, policy, progress=False)
        self.policy = policy
        for index in range(len(references)):
            self._draw_thumbnail(index)
        self._draw_image()
        self._draw_summary()

    # ----------------------------------------------------------------- drawing
    def _masks(self, index: int) -> dict[str, np.ndarray]:
        reference = self.references[index]
        return {label: reference.mask(label) for label in reference.objects}

    def _colours(self) -> dict[str, tuple[int, int, int]]:
        return {label: colour(i) for i, label in enumerate(self.selectors)}

    def _draw_thumbnail(self, index: int) -> None:
        image = self.references[index].image
        self.gallery[index].value = encode_png(
            outlined(image, self._masks(index), self._colours(), factor=2))

    def _draw_image(self) -> None:
        index = self.image.value
        image = self.original[index].image
        factor = max(1, self._size // image.shape[1])
        chosen = self.segmenter.selection(image).get(self.paint.value, set())
        superpixels = self.segmenter.superpixels(image)
        self.canvas.value = encode_png(outlined(
            image, self._masks(index), self._colours(), factor=factor,
            tint=np.isin(superpixels, sorted(chosen)), grid=superpixels))
        shared = self.sanitized[index]
        panels, self.preview_images = [], {}
        for obj in shared.objects:
            view = widgets.Image(value=encode_png(shared_pixels(obj, shared.size)), format="png",
                                 layout=widgets.Layout(width="128px"))
            self.preview_images[obj.label] = view
            caption = f"{obj.label}: {obj.level.name}, {_UPLOADED[obj.level]}"
            panels.append(widgets.VBox([widgets.Label(caption), view]))
        self.preview.children = panels

    def _draw_summary(self) -> None:
        rows = "".join(
            f"<tr><td>{label}</td><td>{self.policy[label].name}</td>"
            f"<td>{_UPLOADED[self.policy[label]]}</td>"
            f"<td>{len(self.sanitized.shared(label))}</td></tr>"
            for label in self.sanitized.objects)
        self.summary.value = (
            f"<b>Upload</b> (policy <code>{self.policy}</code>, scheme {self.policy.scheme}):"
            "<table><tr><th>object</th><th>level</th><th>uploaded</th><th>images</th></tr>"
            f"{rows}</table>")
