"""What the app knows about one training run, built from its events (no Textual).

The same state serves a run this app started (events from the engine's callback) and a
run started elsewhere that we follow (events read from its `events.jsonl`), so the run
view can be closed and reopened and show everything again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftui.store import safe_text
from ftui.train.events import (
    EVENTS_FILE,
    Cancelled,
    EpochSaved,
    Event,
    Failed,
    Finished,
    LogLine,
    LossPoint,
    Progress,
    Started,
    parse_event_lines,
)

MAX_LOG_LINES = 5000
FOLLOW_POLL_S = 0.25


@dataclass
class RunState:
    """One run: what it is, how far it got, its log and losses, how it ended."""

    token: int
    title: str
    following: bool = False  # a run started elsewhere, read from its events.jsonl
    stop: threading.Event = field(default_factory=threading.Event)
    version_id: str | None = None
    parent: str | None = None
    status: str = "starting"  # starting, running, completed, failed, cancelled
    error: str | None = None
    step: int = 0
    total: int = 0
    epoch: float | None = None
    eta_s: float | None = None
    log: list[str] = field(default_factory=list)
    losses: list[tuple[str, int, float]] = field(default_factory=list)  # split, step, loss
    epoch_steps: list[int] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.status in ("starting", "running")

    def add_log(self, text: str) -> None:
        self.log.extend(safe_text(line) for line in text.splitlines() or [""])
        if len(self.log) > MAX_LOG_LINES:
            del self.log[: len(self.log) - MAX_LOG_LINES]

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        if isinstance(event, Started):
            self.version_id = event.version_id
            self.parent = event.parent
            self.status = "running"
            self.add_log(f"started {event.version_id}")
        elif isinstance(event, LogLine):
            self.add_log(event.text)
        elif isinstance(event, Progress):
            self.status = "running"
            self.step, self.total = event.step, event.total
            self.epoch, self.eta_s = event.epoch, event.eta_s
        elif isinstance(event, LossPoint):
            self.losses.append((event.split, event.step, event.loss))
        elif isinstance(event, EpochSaved):
            self.epoch_steps.append(event.step)
        elif isinstance(event, Finished):
            self.finish("completed", event.version_id)
        elif isinstance(event, Failed):
            self.finish("failed", event.version_id, event.error)
        elif isinstance(event, Cancelled):
            self.finish("cancelled", event.version_id)

    def finish(self, status: str, version_id: str | None, error: str | None = None) -> None:
        if not self.active:
            return
        self.status = status
        self.version_id = version_id or self.version_id
        self.error = error
        if error:  # the engine logs its own summary of a success; a reason is worth repeating
            self.add_log(f"{status} {self.version_id or ''}: {error}")

    def progress_text(self) -> str:
        if not self.total:
            return self.status
        text = f"step {self.step}/{self.total}"
        if self.epoch is not None:
            text += f" · epoch {self.epoch:.2f}"
        if self.eta_s is not None and self.active:
            minutes, seconds = divmod(int(self.eta_s + 0.5), 60)
            text += f" · ETA {minutes}:{seconds:02d}"
        return text


def follow_events(folder: Path, stop: threading.Event) -> Iterator[list[Event]]:
    """Tail `<folder>/events.jsonl` until a run-ending event or `stop`; yield new events.

    Only complete lines are parsed, so a writer caught mid-line is read on the next pass.
    """
    path = folder / EVENTS_FILE
    offset = 0
    pending = b""
    while not stop.is_set():
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
        except OSError:
            chunk = b""
        if chunk:
            offset += len(chunk)
            pending += chunk
            events, used = parse_event_lines(pending)
            pending = pending[used:]
            if events:
                yield events
                if any(isinstance(e, Finished | Failed | Cancelled) for e in events):
                    return
            continue
        stop.wait(FOLLOW_POLL_S)
