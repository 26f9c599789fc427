"""GroundedSAM: text-prompted object segmentation with Grounding DINO and SAM.

The device side of SpinML must split each private image into its objects
before it can decide, object by object, what may leave the device. The SpinML
artifact does this with GroundedSAM: Grounding DINO finds a box for each object
named in a text prompt, and the Segment Anything Model (SAM) turns each box
into a pixel mask. :class:`GroundedSAMSegmenter` runs the same pipeline through
``transformers`` (``GroundingDinoForObjectDetection`` and ``SamModel``), from
local model folders only: nothing is downloaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from spinml.data.imageio import to_rgb
from spinml.data.references import BACKGROUND, Segment
from spinml.policy import check_label

__all__ = ["Detection", "GroundedSAMSegmenter"]

_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
_TOKENIZER = ("tokenizer.json", "vocab.txt")
_SAM_BATCH = 8  # boxes per SAM mask-decoder call: bounds memory at 8 x H x W floats


@dataclass(frozen=True)
class Detection:
    """A Grounding DINO box for one requested label.

    ``box`` is ``(x0, y0, x1, y1)`` in pixels of the original image, clipped to
    it; ``score`` is the detector's probability (0..1) that the box shows
    ``label``.
    """

    label: str
    score: float
    box: tuple[float, float, float, float]


def _phrase(label: str) -> str:
    """The text Grounding DINO reads for ``label``: ``hot_dog`` -> ``hot dog``."""
    return label.replace("_", " ").replace("-", " ").lower()


def _check_folder(folder: Path, what: str, model_type: str) -> None:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder {folder} does not exist or is not a folder")
    config = folder / "config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{what} folder {folder} has no config.json")
    if not any((folder / name).is_file() for name in _WEIGHTS):
        raise FileNotFoundError(
            f"{what} folder {folder} has no weights: expected {' or '.join(_WEIGHTS)}"
        )
    try:
        found = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as err:
        raise ValueError(f"{config} is not a valid JSON model configuration: {err}") from None
    if found != model_type:
        raise ValueError(
            f"{what} folder {folder} holds a {found!r} model, expected model_type {model_type!r}"
        )


class GroundedSAMSegmenter:
    """Segment objects named by text: Grounding DINO boxes, then SAM masks.

    Pipeline for :meth:`segment` (labels such as ``["dog", "food_bowl"]``):

    1. Grounding DINO reads the image and the prompt ``"dog. food bowl."``
       (``_`` and ``-`` become spaces, lower case). For every query box it gives
       a probability per prompt token; a box's score for a label is the highest
       probability over that label's tokens.
    2. A box is kept when its highest probability over the whole prompt exceeds
       ``box_threshold`` and it goes to the label with the highest score, if
       that score exceeds ``text_threshold`` (the two thresholds of the
       original GroundedSAM, with defaults 0.35 and 0.25).
    3. SAM turns a label's boxes into masks, best score first. Without
       ``merge``, the label's segment is the mask of its best box (a box whose
       mask comes out empty is passed over for the next one); with
       ``merge=True`` it is the union of the masks of all its boxes (several
       bowls become one ``bowl`` object).

    Labels with no box, or only empty masks, are left out of the result: the
    caller decides what a missing object means. ``"background"`` is never
    detected (the :class:`~spinml.Sanitizer` takes it as the complement of the
    other objects) and is skipped when asked for. Segments of different labels
    may overlap.

    Parameters
    ----------
    detector, sam:
        Local folders of a ``transformers`` Grounding DINO checkpoint (e.g. a
        copy of ``IDEA-Research/grounding-dino-tiny``) and a SAM checkpoint
        (e.g. ``facebook/sam-vit-base``), each with ``config.json``, safetensors
        weights and its processor files.
    box_threshold, text_threshold:
        Probabilities in ``[0, 1)``; see step 2.
    merge:
        Whether several boxes of one label become one mask; see step 3.
    device:
        Torch device for both models; ``None`` picks CUDA when available, else CPU.

    The models are loaded on first use or by :meth:`load`; loading never runs
    remote code and never touches the network.

    References
    ----------
    - SpinML artifact (bitzj2015/SpinML-Artifact): GroundedSAM splits each real
      image into ``foreground/``, ``background/`` and ``mask/``, and labels the
      synthetic images of the pill-bottle detection task.
    - Liu et al., "Grounding DINO: Marrying DINO with Grounded Pre-Training for
      Open-Set Object Detection", 2023.
    - Kirillov et al., "Segment Anything", ICCV 2023.
    - Ren et al., "Grounded SAM: Assembling Open-World Models for Diverse
      Visual Tasks", 2024.
    """

    def __init__(
        self,
        detector: str | Path,
        sam: str | Path,
        *,
        box_threshold: float = 0.35,
        text_threshold: float = 0.25,
        merge: bool = False,
        device: str | torch.device | None = None,
    ) -> None:
        for name, value in (("box_threshold", box_threshold), ("text_threshold", text_threshold)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1), got {value!r}")
        self.detector = detector
        self.sam = sam
        self.box_threshold = box_threshold
        self.text_threshold = text_threshold
        self.merge = merge
        self.device = device

    def __repr__(self) -> str:
        return (
            f"GroundedSAMSegmenter(detector={str(self.detector)!r}, sam={str(self.sam)!r}, "
            f"box_threshold={self.box_threshold}, text_threshold={self.text_threshold}, "
            f"merge={self.merge}, device={self.device!r})"
        )

    @property
    def loaded(self) -> bool:
        """Whether both models are in memory."""
        return hasattr(self, "sam_")

    def load(self) -> GroundedSAMSegmenter:
        """Load both models and processors from their folders; return ``self``.

        Raises :class:`FileNotFoundError` naming the folder when one is missing
        or lacks ``config.json``, weights or processor files, and
        :class:`ValueError` when a folder holds another kind of model.
        """
        from transformers import (
            GroundingDinoForObjectDetection,
            GroundingDinoProcessor,
            SamModel,
            SamProcessor,
        )

        detector, sam = Path(self.detector), Path(self.sam)
        _check_folder(detector, "Grounding DINO", "grounding-dino")
        # transformers quietly builds a 5-token tokenizer when the files are missing
        if not any((detector / name).is_file() for name in _TOKENIZER):
            raise FileNotFoundError(
                f"Grounding DINO folder {detector} has no tokenizer: expected "
                f"{' or '.join(_TOKENIZER)}"
            )
        _check_folder(sam, "SAM", "sam")
        if self.device is None:
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        else:
            device = torch.device(self.device)

        processors = []
        for folder, cls in ((detector, GroundingDinoProcessor), (sam, SamProcessor)):
            try:
                processors.append(cls.from_pretrained(folder, local_files_only=True))
            except OSError as err:
                raise FileNotFoundError(
                    f"{folder}: cannot load the {cls.__name__} (image processor and "
                    f"tokenizer files): {err}"
                ) from err
        options = {"local_files_only": True, "use_safetensors": True}
        self.device_ = device
        self.detector_processor_, self.sam_processor_ = processors
        self.detector_ = GroundingDinoForObjectDetection.from_pretrained(detector, **options)
        self.detector_.to(device).eval()
        self.sam_ = SamModel.from_pretrained(sam, **options)
        self.sam_.to(device).eval()
        return self

    def detect(self, image: np.ndarray, labels: Sequence[str]) -> list[Detection]:
        """Grounding DINO boxes of ``labels`` in ``image``, best score first.

        ``image`` is ``H x W x 3`` uint8 RGB. Every returned box passed both
        thresholds; a label may have several boxes or none. ``"background"``
        is skipped, duplicate labels count once.
        """
        image = to_rgb(image)
        labels = self._labels(labels)
        if not labels:
            return []
        if not self.loaded:
            self.load()
        with torch.inference_mode():
            return self._detect(image, labels)

    def segment(self, image: np.ndarray, labels: Sequence[str]) -> list[Segment]:
        """One non-empty boolean ``H x W`` segment per found label, in the order asked.

        ``image`` is ``H x W x 3`` uint8 RGB; ``labels`` are object labels
        (letters, digits, ``_``, ``-``). Labels that are not found are left out;
        ``"background"`` is never returned.
        """
        image = to_rgb(image)
        labels = self._labels(labels)
        if not labels:
            return []
        if not self.loaded:
            self.load()
        with torch.inference_mode():
            detections = self._detect(image, labels)
            if not detections:
                return []
            embeddings, boxes, sizes = self._sam_inputs(image, detections)
            segments = []
            for label in labels:
                rows = [i for i, d in enumerate(detections) if d.label == label]
                mask = self._label_mask(embeddings, boxes[:, rows], sizes)
                if mask is not None:
                    segments.append(Segment(label, mask))
            return segments

    @staticmethod
    def _labels(labels: Sequence[str]) -> list[str]:
        if isinstance(labels, str):
            raise TypeError(f"labels: expected a sequence of labels, got the string {labels!r}")
        checked = [check_label(label) for label in labels]
        return [label for label in dict.fromkeys(checked) if label != BACKGROUND]

    def _detect(self, image: np.ndarray, labels: list[str]) -> list[Detection]:
        phrases = [_phrase(label) for label in labels]
        prompt = ". ".join(phrases) + "."
        spans, start = [], 0
        for phrase in phrases:
            spans.append((start, start + len(phrase)))
            start += len(phrase) + 2

        tokens = self.detector_processor_.tokenizer(
            prompt, return_offsets_mapping=True, return_tensors="pt"
        )
        limit = self.detector_.config.max_text_len
        if tokens["input_ids"].shape[1] > limit:
            raise ValueError(
                f"the prompt for {len(labels)} labels is {tokens['input_ids'].shape[1]} tokens "
                f"long, more than the detector's max_text_len of {limit}: ask for fewer labels"
            )
        offsets = tokens.pop("offset_mapping")[0]
        # token_of[i, t]: token t belongs to label i (special tokens and "." to none)
        token_of = torch.zeros(len(labels), limit, dtype=torch.bool)
        for i, (lo, hi) in enumerate(spans):
            inside = (offsets[:, 0] >= lo) & (offsets[:, 1] <= hi) & (offsets[:, 1] > offsets[:, 0])
            token_of[i, : len(inside)] = inside

        pixels = self.detector_processor_.image_processor(
            Image.fromarray(image), return_tensors="pt"
        )
        pixels["pixel_values"] = pixels["pixel_values"].to(self.detector_.dtype)
        inputs = {**tokens, **pixels}
        outputs = self.detector_(**{k: v.to(self.device_) for k, v in inputs.items()})
        probs = outputs.logits[0].sigmoid().float().cpu()  # (queries, max_text_len)
        label_probs = torch.where(token_of[None], probs[:, None], 0.0).amax(dim=-1)
        scores, best = label_probs.max(dim=1)
        keep = (probs.amax(dim=1) > self.box_threshold) & (scores > self.text_threshold)

        height, width = image.shape[:2]
        cx, cy, w, h = outputs.pred_boxes[0].float().cpu().unbind(-1)
        corners = torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)
        corners = corners * torch.tensor([width, height, width, height])
        corners[:, 0::2] = corners[:, 0::2].clamp(0, width)
        corners[:, 1::2] = corners[:, 1::2].clamp(0, height)

        order = torch.argsort(scores, descending=True, stable=True)
        return [
            Detection(labels[int(best[q])], float(scores[q]), tuple(corners[q].tolist()))
            for q in order.tolist()
            if keep[q]
        ]

    def _sam_inputs(
        self, image: np.ndarray, detections: list[Detection]
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """SAM image embeddings, all boxes in SAM's input frame, and the two sizes."""
        inputs = self.sam_processor_(
            images=Image.fromarray(image),
            input_boxes=[[list(d.box) for d in detections]],
            return_tensors="pt",
        )
        dtype = self.sam_.dtype
        embeddings = self.sam_.get_image_embeddings(inputs["pixel_values"].to(self.device_, dtype))
        boxes = inputs["input_boxes"].to(self.device_, dtype)
        return embeddings, boxes, (inputs["original_sizes"], inputs["reshaped_input_sizes"])

    def _label_mask(
        self,
        embeddings: torch.Tensor,
        boxes: torch.Tensor,
        sizes: tuple[torch.Tensor, torch.Tensor],
    ) -> np.ndarray | None:
        """The mask of one label from its boxes (``1 x n x 4``, best first).

        ``None`` when every mask is empty.
        """
        union = None
        for start in range(0, boxes.shape[1], _SAM_BATCH):
            outputs = self.sam_(
                image_embeddings=embeddings,
                input_boxes=boxes[:, start : start + _SAM_BATCH],
                multimask_output=False,
            )
            masks = self.sam_processor_.post_process_masks(
                outputs.pred_masks.float().cpu(), *sizes
            )[0][:, 0].numpy()  # (boxes, H, W) bool
            if not self.merge:
                nonempty = masks.any(axis=(1, 2))
                if nonempty.any():
                    return masks[int(np.argmax(nonempty))]
                continue
            union = masks.any(axis=0) if union is None else union | masks.any(axis=0)
        return union if union is not None and union.any() else None
