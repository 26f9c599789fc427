"""Sharing levels and the per-object sharing policy.

A policy maps object labels (``"target"``, ``"background"``, ``"bowl"``, ...) to a
:class:`Level`. Objects it does not name get ``default``, which is ``L0``
unless set: private by default.

>>> p = SharingPolicy.from_string("target=L2,background=L1")
>>> p["target"], p["bowl"], p.scheme
(<Level.L2: 2>, <Level.L0: 0>, 'L2_L1')
>>> SharingPolicy.from_string(str(p)) == p
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from enum import IntEnum
from pathlib import Path

__all__ = ["Level", "SharingPolicy", "check_label"]

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")
_DEFAULT_KEY = "default"


class Level(IntEnum):
    """How much of an object may leave the device. Ordered: ``L0 < L1 < L2``.

    - ``L0``: nothing but the object's label; generated from a text prompt.
    - ``L1``: a feature map of the object (e.g. Canny edges); ControlNet conditioning.
    - ``L2``: the object's pixels (its segment on black) and mask; DreamBooth fine-tuning.
    """

    L0 = 0
    L1 = 1
    L2 = 2

    @classmethod
    def parse(cls, value: Level | int | str, *, name: str = "level") -> Level:
        """Read a level from ``Level.L1``, ``1``, ``"L1"``, ``"l1"`` or ``"1"``."""
        if isinstance(value, Level):
            return value
        if isinstance(value, bool):
            raise ValueError(f"{name}: expected L0, L1 or L2, got {value!r}")
        if isinstance(value, int):
            if value in (0, 1, 2):
                return cls(value)
        elif isinstance(value, str):
            text = value.strip().upper()
            if text in ("L0", "L1", "L2"):
                return cls[text]
            if text in ("0", "1", "2"):
                return cls(int(text))
        raise ValueError(f"{name}: expected L0, L1 or L2, got {value!r}")

    def __str__(self) -> str:
        return self.name


def check_label(label: object, *, what: str = "object label") -> str:
    """Return ``label`` if it is a valid object label (letters, digits, ``_``, ``-``)."""
    if not isinstance(label, str) or not _LABEL.match(label):
        raise ValueError(
            f"{what} {label!r} is not valid: use letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return label


class SharingPolicy(Mapping[str, Level]):
    """Object label -> :class:`Level`, with a default for unnamed objects.

    ``SharingPolicy({"target": "L2"}, default="L0")`` or
    ``SharingPolicy("target=L2,background=L1")`` (the string form; a
    ``default=`` inside it and the ``default`` argument: the higher one wins).

    Immutable and hashable; iterating yields the named labels only.
    ``str(policy)`` is the papermill-friendly form ``"target=L2,background=L1"``
    (plus ``default=L1`` when the default is not ``L0``), which
    :meth:`from_string` reads back.
    """

    __slots__ = ("_levels", "_default")

    def __init__(
        self,
        levels: Mapping[str, Level | int | str] | str | None = None,
        default: Level | int | str = Level.L0,
    ) -> None:
        if isinstance(levels, str):
            parsed_text = SharingPolicy.from_string(levels)
            levels = parsed_text._levels
            default = max(parsed_text.default, Level.parse(default, name="default"))
        parsed: dict[str, Level] = {}
        for label, level in (levels or {}).items():
            check_label(label)
            if label == _DEFAULT_KEY:
                raise ValueError("'default' is reserved: pass it as default=..., not as an object")
            parsed[label] = Level.parse(level, name=f"level of {label!r}")
        self._levels = dict(sorted(parsed.items()))
        self._default = Level.parse(default, name="default")

    @classmethod
    def from_dict(cls, levels: Mapping[str, Level | int | str]) -> SharingPolicy:
        """Build from a dict; a ``"default"`` key sets the default level."""
        levels = dict(levels)
        default = levels.pop(_DEFAULT_KEY, Level.L0)
        return cls(levels, default=default)

    @classmethod
    def from_string(cls, text: str) -> SharingPolicy:
        """Build from ``"target=L2,background=L1[,default=L0]"`` (spaces allowed).

        An empty string gives the all-private policy.
        """
        if not isinstance(text, str):
            raise TypeError(f"policy string: expected str, got {type(text).__name__}")
        levels: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            label, sep, level = (s.strip() for s in part.partition("="))
            if not sep or not label or not level:
                raise ValueError(
                    f"malformed policy string {text!r}: part {part!r} is not 'object=L0|L1|L2'"
                )
            if label in levels:
                raise ValueError(f"malformed policy string {text!r}: {label!r} named twice")
            levels[label] = level
        try:
            return cls.from_dict(levels)
        except ValueError as err:
            raise ValueError(f"policy string {text!r}: {err}") from None

    @classmethod
    def from_json(cls, source: str | Path) -> SharingPolicy:
        """Build from a JSON object text, or from a path to a ``.json`` file."""
        if isinstance(source, Path) or not source.lstrip().startswith(("{", "[")):
            path = Path(source)
            if not path.is_file():
                raise FileNotFoundError(f"policy file {path} does not exist")
            source = path.read_text()
        try:
            data = json.loads(source)
        except json.JSONDecodeError as err:
            raise ValueError(f"policy JSON is malformed: {err}") from None
        if not isinstance(data, dict):
            raise ValueError(f"policy JSON must be an object, got {type(data).__name__}")
        return cls.from_dict(data)

    @classmethod
    def coerce(cls, policy: SharingPolicy | Mapping | str) -> SharingPolicy:
        """Accept a policy, a dict or a policy string."""
        if isinstance(policy, SharingPolicy):
            return policy
        if isinstance(policy, str):
            return cls.from_string(policy)
        if isinstance(policy, Mapping):
            return cls.from_dict(policy)
        raise TypeError(f"policy: expected SharingPolicy, dict or str, got {type(policy).__name__}")

    @property
    def default(self) -> Level:
        """Level of objects the policy does not name."""
        return self._default

    @property
    def scheme(self) -> str:
        """The paper's scheme name ``{target}_{background}``, e.g. ``"L2_L0"``."""
        return f"{self['target'].name}_{self['background'].name}"

    def to_dict(self) -> dict[str, str]:
        """Labels -> level names, with ``"default"`` included."""
        return {**{k: v.name for k, v in self._levels.items()}, _DEFAULT_KEY: self._default.name}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def with_levels(self, **levels: Level | int | str) -> SharingPolicy:
        """A copy with some objects' levels replaced."""
        return SharingPolicy({**self._levels, **levels}, default=self._default)

    def __getitem__(self, label: str) -> Level:
        return self._levels.get(label, self._default)

    def __contains__(self, label: object) -> bool:
        return label in self._levels

    def __iter__(self) -> Iterator[str]:
        return iter(self._levels)

    def __len__(self) -> int:
        return len(self._levels)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SharingPolicy):
            return NotImplemented
        return self._levels == other._levels and self._default == other._default

    def __hash__(self) -> int:
        return hash((tuple(self._levels.items()), self._default))

    def __str__(self) -> str:
        parts = [f"{k}={v.name}" for k, v in self._levels.items()]
        if self._default != Level.L0:
            parts.append(f"{_DEFAULT_KEY}={self._default.name}")
        return ",".join(parts)

    def __repr__(self) -> str:
        return f"SharingPolicy({str(self)!r})"
