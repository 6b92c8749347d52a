"""The run view: live log, progress with ETA, the loss plot growing point by point and,
beside it, the metrics a GPU user watches (step time, throughput, lr, grad norm, memory).

It shows a `RunState` the app keeps (so it can be closed and reopened); the app calls
`show_event()` as each event arrives. `x` cancels a run this app started, after asking
(y/n: a stray escape cannot answer), or stops following one started elsewhere;
`escape`/`b` go back to the browser and let it run. The footer offers only what applies
now, so it never contradicts the header.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar, RichLog, Static

from ftui.store import safe_text
from ftui.train.events import EpochSaved, Event, LogLine, LossPoint, Metrics, Progress, Started

from ..palette import COMPONENT_CLASSES
from ..run_state import MAX_LOG_LINES, RunState
from ..widgets.loss_plot import LossPlot
from ..widgets.run_metrics import RunMetrics

if TYPE_CHECKING:
    from ..main import FtuiApp


class RunScreen(Screen[None]):
    """Shows one run; every change comes from the app through `show_event`/`show_end`."""

    BINDINGS = [
        Binding("x", "cancel", "Cancel run…"),
        Binding("s", "stop_following", "Stop following"),
        Binding("escape,b", "back", "Browser (run goes on)"),
    ]

    COMPONENT_CLASSES = {"run--completed", "run--failed", "run--cancelled", "run--active"} | (
        COMPONENT_CLASSES  # the live plot's colours
    )

    def __init__(self, state: RunState) -> None:
        super().__init__()
        self.state = state
        self.written = 0  # lines of state.log already in the log widget

    def compose(self) -> ComposeResult:
        yield Static(id="run-head")
        with Horizontal(id="run-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="run-progress")
            yield Static(id="run-eta")
        with Horizontal(id="run-middle"):
            yield LossPlot("loss (live)", id="run-plot")
            yield RunMetrics(id="run-metrics")
        yield RichLog(id="run-log", max_lines=MAX_LOG_LINES, wrap=True, markup=False)
        yield Footer()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Only the keys that apply: cancel a live run, stop following one."""
        if action == "cancel":
            return self.state.active
        if action == "stop_following":
            return self.state.active and self.state.following
        return True

    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Everything from the state (on open, or when reopened later)."""
        state = self.state
        plot = self.query_one(LossPlot)
        plot.start_live("loss (live)")
        for split, step, loss in state.losses:
            target = plot.series[1] if split == "eval" else plot.series[0]
            target.add(step, loss)
        plot.epoch_steps = list(state.epoch_steps)
        plot.replot()
        self.query_one(RichLog).clear()
        self.written = 0
        self.write_new_lines()
        self.update_head()
        self.update_progress()
        self.query_one(RunMetrics).show(state.metrics, waiting=state.active)

    def write_new_lines(self) -> None:
        log = self.query_one(RichLog)
        lines = self.state.log
        if self.written > len(lines):  # the state dropped old lines (MAX_LOG_LINES)
            self.written = len(lines)
        for line in lines[self.written :]:
            log.write(Text(safe_text(line)))
        self.written = len(lines)

    def update_head(self) -> None:
        state = self.state
        head = Text()
        head.append("Following " if state.following else "Training ", style="bold")
        head.append(safe_text(state.version_id or state.title))
        if state.parent:
            head.append(f" (from {safe_text(state.parent)})", style="dim")
        head.append("  ")
        kind = state.status if state.status in ("completed", "failed", "cancelled") else "active"
        head.append(state.status, style=self.get_component_rich_style(f"run--{kind}"))
        if state.error:
            head.append("\n")
            head.append(safe_text(state.error), style=self.get_component_rich_style("run--failed"))
        self.query_one("#run-head", Static).update(head)
        self.refresh_bindings()

    def update_progress(self) -> None:
        state = self.state
        bar = self.query_one(ProgressBar)
        if state.total:
            bar.update(total=state.total, progress=state.step)
        self.query_one("#run-eta", Static).update(Text(state.progress_text()))

    def show_event(self, event: Event) -> None:
        """One new event (already folded into the state by the app)."""
        if isinstance(event, LogLine | Started):
            self.write_new_lines()
            if isinstance(event, Started):
                self.update_head()
        elif isinstance(event, Progress):
            self.update_progress()
        elif isinstance(event, Metrics):
            self.query_one(RunMetrics).show(event)
        elif isinstance(event, LossPoint):
            self.query_one(LossPlot).add_point(event.split, event.step, event.loss)
        elif isinstance(event, EpochSaved):
            self.query_one(LossPlot).add_epoch(event.step)
        else:
            self.show_end()

    def show_end(self) -> None:
        self.query_one(RunMetrics).show(self.state.metrics, waiting=False)
        self.write_new_lines()
        self.update_head()
        self.update_progress()

    def action_cancel(self) -> None:
        """`x`: stop the run after its current step, wherever it runs (ours, or a detached
        one we follow). Asks first, and only y answers: a stray escape over SSH must never
        kill a GPU job."""
        if self.state.active:
            cast("FtuiApp", self.app).confirm_cancel(self.state.version_id, self.state)

    def action_stop_following(self) -> None:
        if self.state.active and self.state.following:
            cast("FtuiApp", self.app).stop_run(self.state)
            self.update_head()

    def action_back(self) -> None:
        self.dismiss(None)
