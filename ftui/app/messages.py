"""Messages that carry results from workers up to the screens that show them.

Workers compute and post one of these; `@on` handlers change state. Each is a small
dataclass-like `Message` with the data it carries; only progress may be replaced in
the queue (`can_replace`), since a newer progress report makes an older one useless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from pathlib import Path

    from ftui.store import Comparison, LossHistory, Version
    from ftui.store.lora_math import UpdateStats
    from ftui.train.events import Event

    from .selection import Selection


class VersionsScanned(Message):
    """A scan of the root produced (part of) the version list.

    `complete` is False for the early batches of a large folder, shown while the rest
    is still being read; `error` is the one-line reason the root itself is unusable.
    """

    def __init__(
        self, versions: list[Version], complete: bool, error: str | None = None, scan_id: int = 0
    ) -> None:
        super().__init__()
        self.versions = versions
        self.complete = complete
        self.error = error
        self.scan_id = scan_id


class MetricsFilled(Message):
    """Versions whose missing metrics were filled in from their loss histories."""

    def __init__(self, versions: dict[str, Version], scan_id: int) -> None:
        super().__init__()
        self.versions = versions
        self.scan_id = scan_id


@dataclass
class DetailsData:
    """Everything the details pane shows for one selection, read in a worker."""

    selection: Selection
    history: LossHistory
    problems: list[str] = field(default_factory=list)
    files: list[tuple[str, int]] = field(default_factory=list)
    total_size: int = 0
    more_files: bool = False
    adapter: Any = None  # AdapterInfo of the checkpoint (or version)
    breakdown: Any = None  # the version's SizeBreakdown (adapter, checkpoints, state…)


class DetailsLoaded(Message):
    def __init__(self, data: DetailsData) -> None:
        super().__init__()
        self.data = data


@dataclass
class ComparisonData:
    comparison: Comparison
    history_a: LossHistory
    history_b: LossHistory
    seconds: float = 0.0


class UpdatesLoaded(Message):
    """Per-module update norms and cosines, read from the tensors after the shapes."""

    def __init__(self, updates: list[UpdateStats]) -> None:
        super().__init__()
        self.updates = updates


class ComparisonLoaded(Message):
    def __init__(self, data: ComparisonData) -> None:
        super().__init__()
        self.data = data


class RunEventMessage(Message):
    """One event of a training run (ours or followed from its events.jsonl)."""

    def __init__(self, token: int, event: Event) -> None:
        super().__init__()
        self.token = token
        self.event = event


class RunProgress(Message):
    """A progress event: only the newest one matters, so older ones may be replaced."""

    def __init__(self, token: int, event: Event) -> None:
        super().__init__()
        self.token = token
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RunProgress) and message.token == self.token


class RunEnded(Message):
    """A run worker finished; `version_id` is the new version (None if none was made)."""

    def __init__(
        self, token: int, status: str, version_id: str | None, error: str | None = None
    ) -> None:
        super().__init__()
        self.token = token
        self.status = status
        self.version_id = version_id
        self.error = error


class RunLaunched(Message):
    """A detached run was started (or resumed): its version, process and log."""

    def __init__(self, token: int, version_id: str, pid: int, log: Path, note: str) -> None:
        super().__init__()
        self.token = token
        self.version_id = version_id
        self.pid = pid
        self.log = log
        self.note = note
