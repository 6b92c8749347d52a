"""What the app knows about one training run, built from its events (no Textual).

The same state serves a run this app started (events from the engine's callback) and a
run started elsewhere that we follow (events read from its `events.jsonl`), so the run
view can be closed and reopened and show everything again.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftui.store import one_line
from ftui.store.jsonio import ReadError, open_regular
from ftui.store.model import Status
from ftui.train.events import (
    EVENTS_FILE,
    Cancelled,
    Ended,
    EpochSaved,
    Event,
    Failed,
    Finished,
    LogLine,
    LossPoint,
    Metrics,
    Progress,
    Started,
    parse_event_lines,
)

MAX_LOG_LINES = 5000
MAX_LOSS_POINTS = 100_000  # a run logs far fewer; a hostile log cannot grow memory past this
MAX_EVENT_LINE = 64 * 1024  # one event is a few hundred bytes
MAX_READ_PER_POLL = 1024 * 1024
FOLLOW_POLL_S = 0.25
LIVENESS_EVERY_S = 2.0  # how often a followed run's process is checked while it is quiet


@dataclass
class RunState:
    """One run: what it is, how far it got, its log and losses, how it ended."""

    token: int
    title: str
    following: bool = False  # a run started elsewhere, read from its events.jsonl
    stop: threading.Event = field(default_factory=threading.Event)
    version_id: str | None = None
    parent: str | None = None
    status: Status | None = None  # None: starting (no event yet)
    stopped_following: bool = False  # we stopped following; the run goes on elsewhere
    error: str | None = None
    step: int = 0
    total: int = 0
    epoch: float | None = None
    eta_s: float | None = None
    log: list[str] = field(default_factory=list)
    losses: list[tuple[str, int, float]] = field(default_factory=list)  # split, step, loss
    last_loss_step: dict[str, int] = field(default_factory=dict)  # per split
    epoch_steps: list[int] = field(default_factory=list)
    metrics: Metrics | None = None  # the latest sample: step time, throughput, GPU memory

    @property
    def active(self) -> bool:
        """Starting or running (queued counts: its process is alive and waiting)."""
        return not self.stopped_following and (self.status is None or self.status.live)

    @property
    def status_text(self) -> str:
        """What the run view's header says: the status, `starting` or `stopped following`."""
        if self.stopped_following:
            return "stopped following"
        return "starting" if self.status is None else self.status.value

    def add_log(self, text: str) -> None:
        self.log.extend(one_line(line, 2000) for line in text.splitlines() or [""])
        if len(self.log) > MAX_LOG_LINES:
            del self.log[: len(self.log) - MAX_LOG_LINES]

    def apply(self, event: Event) -> None:
        """Fold one event into the state."""
        if isinstance(event, Started):
            self.version_id = event.version_id
            self.parent = event.parent
            self.status = Status.RUNNING
            self.add_log(f"started {event.version_id}")
        elif isinstance(event, LogLine):
            self.add_log(event.text)
        elif isinstance(event, Progress):
            self.status = Status.RUNNING
            self.step, self.total = event.step, event.total
            self.epoch, self.eta_s = event.epoch, event.eta_s
        elif isinstance(event, Metrics):
            self.metrics = event
        elif isinstance(event, LossPoint):
            # A step at or before the split's last one: the run went back to a checkpoint
            # (it was resumed), so what it logged after that step was redone.
            if event.step <= self.last_loss_step.get(event.split, -1):
                self.losses = [p for p in self.losses if p[0] != event.split or p[1] < event.step]
            self.last_loss_step[event.split] = event.step
            if len(self.losses) < MAX_LOSS_POINTS:
                self.losses.append((event.split, event.step, event.loss))
        elif isinstance(event, EpochSaved):
            if self.epoch_steps and self.epoch_steps[-1] >= event.step:  # (resumed, as above)
                self.epoch_steps = [step for step in self.epoch_steps if step < event.step]
            if len(self.epoch_steps) < MAX_LOSS_POINTS:
                self.epoch_steps.append(event.step)
        elif isinstance(event, Finished | Failed | Cancelled):  # each `Ended` carries its status
            error = event.error if isinstance(event, Failed) else None
            self.finish(event.status, event.version_id, error)

    def finish(self, status: Status, version_id: str | None, error: str | None = None) -> None:
        """The run ended with `status` (from its ending event, or as the app saw it end)."""
        if not self.active:
            return
        self.status = status
        self.version_id = version_id or self.version_id
        self.error = error
        if error:  # the engine logs its own summary of a success; a reason is worth repeating
            self.add_log(f"{status} {self.version_id or ''}: {error}")

    def progress_text(self) -> str:
        if not self.total:
            return self.status_text
        text = f"step {self.step}/{self.total}"
        if self.epoch is not None:
            text += f" · epoch {self.epoch:.2f}"
        if self.eta_s is not None and self.active:
            minutes, seconds = divmod(int(self.eta_s + 0.5), 60)
            text += f" · ETA {minutes}:{seconds:02d}"
        return text


def follow_events(
    folder: Path,
    stop: threading.Event,
    alive: Callable[[], bool] | None = None,
    check_every: float = LIVENESS_EVERY_S,
) -> Iterator[list[Event]]:
    """Tail `<folder>/events.jsonl` until a run-ending event or `stop`; yield new events.

    With `alive`, asked every `check_every` seconds while nothing new arrives: once the
    process is gone, what it wrote is read to the end and the generator returns (the
    caller tells an ending from a death by the events it got).

    A log can hold several segments: a run that ended (cancelled, failed, killed) and
    was resumed in place appends to the same file. An ending event followed by more
    events is history, relayed as a log line (`superseded`); only the last one ends
    the follow. A resume writes its first line before its process starts, so a follow
    begun right after `ftui resume` is not ended by the previous segment's ending.

    Only complete lines are parsed, so a writer caught mid-line is read on the next pass.
    Bounded: at most `MAX_READ_PER_POLL` bytes per read and `MAX_EVENT_LINE` per line
    (a longer line is skipped); a FIFO, device or socket is refused without blocking
    (`ReadError`), so a log linked to /dev/zero or a pipe cannot eat memory or hang.
    """
    path = folder / EVENTS_FILE
    offset = 0
    pending = b""
    held: list[Event] = []  # a run-ending event read last, when more may follow it
    skipping = False  # inside a line longer than MAX_EVENT_LINE: drop it up to its end
    last_check = time.monotonic()
    gone = False
    while not stop.is_set():
        chunk = read_new_bytes(path, offset, MAX_READ_PER_POLL)
        at_end = len(chunk) < MAX_READ_PER_POLL
        if not chunk:
            if held:  # the ending read last was the last thing written
                yield held
                return
            if gone:
                return  # its process has ended and everything it wrote has been read
            if alive is not None and time.monotonic() - last_check >= check_every:
                last_check = time.monotonic()
                gone = not alive()
                continue  # one more read: what it wrote just before it ended
            stop.wait(FOLLOW_POLL_S)
            continue
        offset += len(chunk)
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                continue
            chunk, skipping = chunk[end + 1 :], False
        pending += chunk
        events, used = parse_event_lines(pending)
        pending = pending[used:]
        if len(pending) > MAX_EVENT_LINE:
            pending, skipping = b"", True
        events, held = held + events, []
        last = max((i for i, e in enumerate(events) if isinstance(e, Ended)), default=None)
        final = False
        if last is not None:
            if last < len(events) - 1:  # the run went on (it was resumed): history
                events = [superseded(e) for e in events]
            elif not at_end:  # more to read: it is the end only if nothing follows it
                events, held = [superseded(e) for e in events[:last]], events[last:]
            else:
                events = [superseded(e) for e in events[:last]] + events[last:]
                final = True
        if events:
            yield events
        if final:
            return
        if at_end:
            stop.wait(FOLLOW_POLL_S)


def superseded(event: Event) -> Event:
    """An ending event that later events followed (the run was resumed): a log line."""
    if isinstance(event, Finished):
        return LogLine(text="completed (later resumed)")
    if isinstance(event, Failed):
        return LogLine(text=f"failed: {event.error} (later resumed)", level="warning")
    if isinstance(event, Cancelled):
        return LogLine(text="cancelled (later resumed)", level="warning")
    return event


def read_new_bytes(path: Path, offset: int, limit: int) -> bytes:
    """Up to `limit` bytes of a regular file from `offset` (b"" while it is missing).

    Opened non-blocking and checked with fstat before any read: anything but a regular
    file raises `ReadError`.
    """
    try:
        fd, _size = open_regular(path)
    except ReadError as exc:
        if str(exc) == "missing":
            return b""  # not written yet
        raise ReadError(f"{EVENTS_FILE}: {exc}") from None
    try:
        return os.pread(fd, limit, offset)
    except OSError as exc:
        raise ReadError(f"{EVENTS_FILE}: unreadable ({exc.strerror})") from None
    finally:
        os.close(fd)
