"""The results explorer: a sweep's privacy-utility plot, one object and metric at a time.

>>> explorer = ResultsExplorer(frame, highlight="target=L2,background=L1")  # doctest: +SKIP
>>> explorer.link(picker)       # the highlight follows an ObjectPicker  # doctest: +SKIP

``frame`` is the tidy sweep DataFrame of :mod:`spinml.experiment` (columns
``scheme``, ``alpha``, ``object``, ``metric``, ``seed``, ``value``; utility
metrics have ``object == "model"``). For the chosen object, privacy metric,
utility metric and mixing fraction ``alpha``, each scheme becomes one point
of :func:`spinml.evaluate.plots.privacy_utility`: mean privacy over seeds (x)
against mean utility over seeds (y), with 95 % confidence intervals.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
import numpy as np
import pandas as pd
import traitlets
from matplotlib.figure import Figure

from spinml.evaluate import plots
from spinml.policy import SharingPolicy

__all__ = ["ResultsExplorer"]

MODEL = "model"
_COLUMNS = {"scheme", "alpha", "object", "metric", "seed", "value"}


class ResultsExplorer(widgets.VBox):
    """Dropdowns for object, privacy metric, utility metric and ``alpha``; the plot; its table.

    ``highlight`` is the scheme to ring (e.g. ``"L2_L1"``); it also accepts a
    :class:`~spinml.SharingPolicy` or a policy string. :meth:`link` makes it
    follow an :class:`~spinml.widgets.ObjectPicker`.
    """

    highlight = traitlets.Any(None, allow_none=True)

    def __init__(self, frame: pd.DataFrame, highlight: SharingPolicy | str | None = None) -> None:
        super().__init__()
        missing = sorted(_COLUMNS - set(frame.columns))
        if missing:
            raise ValueError(f"frame: missing columns {missing}; expected a sweep DataFrame")
        self.frame = frame
        privacy = frame[frame["object"] != MODEL]
        if privacy.empty or not (frame["object"] == MODEL).any():
            raise ValueError("frame: needs privacy rows (object != 'model') and utility rows "
                             "(object == 'model')")
        self.object = widgets.Dropdown(options=sorted(privacy["object"].unique()),
                                       description="object")
        self.metric = widgets.Dropdown(description="metric")
        self.utility = widgets.Dropdown(
            options=sorted(frame.loc[frame["object"] == MODEL, "metric"].unique()),
            description="utility")
        if "accuracy" in self.utility.options:
            self.utility.value = "accuracy"
        alphas = sorted(frame["alpha"].unique())
        self.alpha = widgets.Dropdown(options=alphas, value=alphas[0], description="alpha")
        self.plot = widgets.Image(format="png")
        self.figure: Figure | None = None
        self.table = widgets.HTML()
        self.message = widgets.HTML()
        self.children = (widgets.HBox([self.object, self.metric, self.utility, self.alpha]),
                         self.message, widgets.HBox([self.plot, self.table]))
        self.highlight = highlight
        self._metrics()
        self.object.observe(lambda _: self._metrics(), names="value")
        for control in (self.metric, self.utility, self.alpha):
            control.observe(lambda _: self.draw(), names="value")
        self.observe(lambda _: self.draw(), names="highlight")

    @traitlets.validate("highlight")
    def _scheme(self, proposal: dict) -> str | None:
        value = proposal["value"]
        if value is None:
            return None
        if isinstance(value, SharingPolicy):
            return value.scheme
        if not isinstance(value, str):
            raise traitlets.TraitError(
                f"highlight: expected a scheme, policy string or SharingPolicy, got {value!r}")
        return SharingPolicy.from_string(value).scheme if "=" in value else value

    def link(self, picker: widgets.Widget) -> None:
        """Highlight ``picker``'s scheme now and whenever its policy changes."""
        self.highlight = picker.policy
        picker.observe(lambda change: setattr(self, "highlight", change["new"]), names="policy")

    def _metrics(self) -> None:
        rows = self.frame[self.frame["object"] == self.object.value]
        metric = self.metric.value
        self.metric.options = sorted(rows["metric"].unique())
        if self.metric.value is None:
            self.metric.value = metric if metric in self.metric.options else self.metric.options[0]
        self.draw()

    @property
    def summary(self) -> pd.DataFrame:
        """The plotted numbers, one row per scheme: ``privacy``, ``privacy_ci``,
        ``utility``, ``utility_ci`` (means and 95 % CI half-widths) and ``seeds``."""
        data = self.frame[np.isclose(self.frame["alpha"], self.alpha.value)]
        x = plots.summarise(data[(data["object"] == self.object.value)
                                 & (data["metric"] == self.metric.value)], ["scheme"])
        y = plots.summarise(data[(data["object"] == MODEL)
                                 & (data["metric"] == self.utility.value)], ["scheme"])
        both = x.merge(y, on="scheme", suffixes=("_x", "_y"))
        return both.set_index("scheme").rename(columns={
            "mean_x": "privacy", "ci_x": "privacy_ci", "mean_y": "utility",
            "ci_y": "utility_ci", "n_y": "seeds"}).drop(columns="n_x")

    def draw(self) -> None:
        """Redraw the plot and table for the current choices."""
        fig = Figure(figsize=(5.5, 4.0), dpi=100)
        try:
            plots.privacy_utility(self.frame, self.object.value, self.metric.value,
                                  utility=self.utility.value, alpha=self.alpha.value,
                                  highlight=self.highlight, ax=fig.add_subplot())
        except ValueError as err:
            self.message.value = f"<span style='color:#b00'>{err}</span>"
            return
        self.message.value = ""
        self.figure = fig
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        self.plot.value = buffer.getvalue()
        self.table.value = self.summary.to_html(float_format=lambda v: f"{v:.4f}")
