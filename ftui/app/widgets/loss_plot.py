"""An inline loss plot: train loss per step, eval loss per epoch, epoch boundaries.

The widget owns its data (series and epoch lines): callers `show_*()` or `add_point()`
and the widget redraws itself with plotext. Series differ by marker as well as colour,
so the plot still reads under NO_COLOR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from textual_plotext import PlotextPlot

from ftui.store import LossHistory, safe_text

from ..palette import palette_of


@dataclass
class Series:
    label: str
    marker: str
    color: str  # a palette name (palette.py): the theme decides the colour
    line: bool = True
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def add(self, x: float, y: float) -> None:
        if math.isfinite(y):
            self.xs.append(x)
            self.ys.append(y)


def step_ticks(low: float, high: float, most: int = 5) -> list[int]:
    """At most `most` whole-number ticks from `low` to `high` (steps are never fractional)."""
    first, last = math.floor(low), math.ceil(high)
    if last <= first:
        return [first]
    stride = max(1, math.ceil((last - first) / (most - 1)))
    ticks = list(range(first, last + 1, stride))
    if ticks[-1] != last and len(ticks) < most:
        ticks.append(last)
    return ticks


# (train marker, eval marker, colour) per overlaid curve: A, then B
STYLES = (("braille", "E", "side_a"), ("dot", "e", "side_b"))


class LossPlot(PlotextPlot):
    """Loss curves of one version, of two overlaid, or of a live run."""

    def __init__(
        self,
        title: str = "loss",
        *,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str = "",
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.title = title
        self.series: list[Series] = []
        self.epoch_steps: list[int] = []

    @property
    def point_count(self) -> int:
        return sum(len(s.xs) for s in self.series)

    def clear_series(self, title: str | None = None) -> None:
        if title is not None:
            self.title = title
        self.series = []
        self.epoch_steps = []
        self.replot()

    def _curves(self, history: LossHistory, prefix: str, style: int) -> list[Series]:
        train_marker, eval_marker, color = STYLES[style]
        train = Series(f"{prefix}train", train_marker, color)
        evals = Series(f"{prefix}eval", eval_marker, color, line=False)
        for point in history.train:
            train.add(point.step, point.loss)
        for point in history.eval:
            evals.add(point.step, point.loss)
        return [s for s in (train, evals) if s.xs]

    def show_history(self, history: LossHistory, title: str = "loss") -> None:
        """One version: its train curve, eval points and epoch boundaries."""
        self.title = title
        self.series = self._curves(history, "", 0)
        self.epoch_steps = list(history.epoch_steps)
        self.replot()

    def show_pair(self, a: LossHistory, b: LossHistory, label_a: str, label_b: str) -> None:
        """Two versions overlaid: A and B differ by marker and colour."""
        self.title = f"A: {label_a}  B: {label_b}"
        self.series = self._curves(a, "A ", 0) + self._curves(b, "B ", 1)
        self.epoch_steps = []
        self.replot()

    def start_live(self, title: str) -> None:
        train_marker, eval_marker, color = STYLES[0]
        self.title = title
        self.series = [
            Series("train", train_marker, color),
            Series("eval", eval_marker, color, False),
        ]
        self.epoch_steps = []
        self.replot()

    def add_point(self, split: str, step: float, loss: float) -> None:
        """Append one live point (split "train" or "eval") and redraw."""
        if not self.series:
            self.start_live(self.title)
        target = self.series[1] if split == "eval" and len(self.series) > 1 else self.series[0]
        target.add(step, loss)
        self.replot()

    def add_epoch(self, step: int) -> None:
        self.epoch_steps.append(step)
        self.replot()

    def colour(self, name: str) -> str | tuple[int, int, int]:
        """A palette colour as plotext takes it: (r, g, b) from the theme, else the
        terminal's default (NO_COLOR, or a theme that leaves it unset)."""
        colour = palette_of(self)[name].color
        triplet = colour.get_truecolor() if colour is not None else None
        return (triplet.red, triplet.green, triplet.blue) if triplet is not None else "default"

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(safe_text(self.title))
        plt.xlabel("step")
        drawn = False
        for series in self.series:
            if not series.xs:
                continue
            drawn = True
            draw = plt.plot if series.line and len(series.xs) > 1 else plt.scatter
            draw(series.xs, series.ys, marker=series.marker, color=self.colour(series.color),
                 label=series.label)  # fmt: skip
        if drawn:
            for step in self.epoch_steps:
                plt.vline(step, self.colour("cancelled"))
            xs = [x for series in self.series for x in series.xs]
            ticks = step_ticks(min(xs), max(xs))
            plt.xticks([float(t) for t in ticks], [str(t) for t in ticks])
            if len(set(xs)) == 1:  # one point: a range around it, not plotext's 2–6 default
                plt.xlim(ticks[0] - 1, ticks[0] + 1)
        else:
            plt.title(safe_text(f"{self.title}: no loss history"))
        self.refresh()
