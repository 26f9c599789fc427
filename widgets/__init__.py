"""Interactive extras for notebooks (ipywidgets 8), installed as ``spinml.widgets``.

Every notebook also runs without them: a policy arrives as a parameter string.

- :class:`ObjectPicker`: per-object sharing levels, superpixel editing and a
  live preview of the upload.
- :class:`ResultsExplorer`: the privacy-utility plot of a sweep, with the
  current policy highlighted.
"""

from .explorer import ResultsExplorer
from .picker import ObjectPicker

__all__ = ["ObjectPicker", "ResultsExplorer"]
