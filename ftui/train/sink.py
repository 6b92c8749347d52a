"""Where a run's events go: the caller's `on_event` and `<version>/events.jsonl`.

Events emitted before the version folder exists (loading the model) are kept and
written first once the folder is claimed, so the log file tells the whole story.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO

from .events import EVENTS_FILE, Event, LogLine, event_to_json

EventCallback = Callable[[Event], None]


class EventSink:
    """Fans events out to a callback and an append-only JSON-lines file (flushed per line)."""

    def __init__(self, on_event: EventCallback | None, write_file: bool = True) -> None:
        self._on_event = on_event
        self._write_file = write_file
        self._pending: list[str] = []
        self._handle: IO[str] | None = None
        self._lock = threading.Lock()
        self._callback_failed = False
        self.path: Path | None = None

    def attach(self, folder: Path) -> None:
        """Start writing to `folder/events.jsonl`, beginning with the events kept so far."""
        if not self._write_file:
            return
        with self._lock:
            self.path = folder / EVENTS_FILE
            self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            if self._pending:
                self._handle.write("".join(self._pending))
                self._handle.flush()
            self._pending.clear()

    def emit(self, event: Event) -> None:
        if self._write_file:
            line = event_to_json(event) + "\n"
            with self._lock:
                if self._handle is None:
                    self._pending.append(line)
                else:
                    try:
                        self._handle.write(line)
                        self._handle.flush()
                    except OSError:
                        pass  # a full disk fails the run where it matters (saving), not here
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception as exc:  # noqa: BLE001 - a listener's bug must not kill the run
                if not self._callback_failed:
                    self._callback_failed = True
                    print(f"ftui: on_event raised {exc!r}; further errors ignored", file=sys.stderr)

    def log(self, text: str, level: str = "info") -> None:
        self.emit(LogLine(text=text, level=level))

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                with contextlib.suppress(OSError):
                    self._handle.close()
                self._handle = None
