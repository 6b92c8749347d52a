"""The run view: live log, progress with ETA, the loss plot growing point by point and,
beside it, the metrics a GPU user watches (step time, throughput, lr, grad norm, memory).

It shows a `RunState` the app keeps (so it can be closed and reopened); the app calls
`show_event()` as each event arrives. `escape` cancels a run this app started (after the
current step) or stops following one started elsewhere; `b` goes back and lets it run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Log, ProgressBar, Static

from ftui.store import safe_text
from ftui.train.events import EpochSaved, Event, LogLine, LossPoint, Metrics, Progress, Started

from ..run_state import RunState
from ..widgets.loss_plot import LossPlot
from ..widgets.run_metrics import RunMetrics

if TYPE_CHECKING:
    from ..main import FtuiApp

STATUS_STYLE = {"completed": "bold green", "failed": "bold red", "cancelled": "bold yellow"}


class RunScreen(Screen[None]):
    """Shows one run; every change comes from the app through `show_event`/`show_end`."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel run / back"),
        Binding("b", "back", "Browser (keep running)"),
        Binding("x", "cancel_run", "Cancel run"),
    ]

    def __init__(self, state: RunState) -> None:
        super().__init__()
        self.state = state

    def compose(self) -> ComposeResult:
        yield Static(id="run-head")
        with Horizontal(id="run-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="run-progress")
            yield Static(id="run-eta")
        with Horizontal(id="run-middle"):
            yield LossPlot("loss (live)", id="run-plot")
            yield RunMetrics(id="run-metrics")
        yield Log(id="run-log", max_lines=5000)
        yield Footer()

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
        log = self.query_one(Log)
        log.clear()
        log.write_lines(state.log)
        self.update_head()
        self.update_progress()
        self.query_one(RunMetrics).show(state.metrics, waiting=state.active)

    def update_head(self) -> None:
        state = self.state
        head = Text()
        head.append("Following " if state.following else "Training ", style="bold")
        head.append(safe_text(state.version_id or state.title))
        if state.parent:
            head.append(f" (from {safe_text(state.parent)})", style="dim")
        head.append("  ")
        head.append(state.status, style=STATUS_STYLE.get(state.status, "bold yellow"))
        if state.error:
            head.append("\n")
            head.append(safe_text(state.error), style="red")
        if state.active:
            hint = "escape: stop following" if state.following else "escape: cancel after this step"
            head.append(f"\n{hint} · x: cancel the run · b: back to the browser", style="dim")
        else:
            head.append("\nescape or b: back to the browser", style="dim")
        self.query_one("#run-head", Static).update(head)

    def update_progress(self) -> None:
        state = self.state
        bar = self.query_one(ProgressBar)
        if state.total:
            bar.update(total=state.total, progress=state.step)
        self.query_one("#run-eta", Static).update(Text(state.progress_text()))

    def show_event(self, event: Event) -> None:
        """One new event (already folded into the state by the app)."""
        if isinstance(event, LogLine | Started):
            lines = event.text.splitlines() if isinstance(event, LogLine) else self.state.log[-1:]
            self.query_one(Log).write_lines([safe_text(line) for line in lines])
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
        log = self.query_one(Log)
        missing = self.state.log[log.line_count :]
        if missing:
            log.write_lines(missing)
        self.update_head()
        self.update_progress()

    def action_cancel(self) -> None:
        if self.state.active:
            cast("FtuiApp", self.app).stop_run(self.state)
            self.update_head()
        else:
            self.action_back()

    def action_cancel_run(self) -> None:
        """`x`: stop the run after its current step (asks first), wherever it runs."""
        if self.state.active:
            cast("FtuiApp", self.app).confirm_cancel(self.state.version_id, self.state)

    def action_back(self) -> None:
        self.dismiss(None)
