"""Plain event objects a training run emits, and their JSON-lines form.

The engine hands each event to an `on_event` callback (the app turns them into Textual
messages) and appends it to `<version>/events.jsonl`, so a run started in another shell
can be followed live by reading that file. Importing this module is cheap: no HF stack.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from ftui.store.model import Status

EVENTS_FILE = "events.jsonl"


@dataclass(frozen=True)
class Event:
    """Base of every event; `kind` names the concrete class in the log file."""

    kind: ClassVar[str] = "event"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass(frozen=True)
class Started(Event):
    """A version was claimed and training is about to start."""

    kind: ClassVar[str] = "started"
    version_id: str
    path: str
    parent: str | None = None


@dataclass(frozen=True)
class LogLine(Event):
    """One line of human-readable output (what a terminal would have shown)."""

    kind: ClassVar[str] = "log"
    text: str
    level: str = "info"


@dataclass(frozen=True)
class Progress(Event):
    """Optimizer step `step` of `total`; `eta_s` is the estimated seconds left."""

    kind: ClassVar[str] = "progress"
    step: int
    total: int
    epoch: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class Metrics(Event):
    """What a GPU user watches, sampled about once a second (`None`: not known here).

    `step_time_s`, `samples_per_s` and `tokens_per_s` are averaged over the steps since the
    previous sample, counted over all processes (`tokens_per_s` from the mean tokenized
    length of the training examples, so it costs nothing per step); `learning_rate` and
    `grad_norm` are the Trainer's latest logged values; `gpu_mem_allocated` and
    `gpu_mem_reserved` are the peak bytes torch has allocated and reserved on this
    process's CUDA device; `gpu_util` is NVML's utilisation percent (only with NVML).
    """

    kind: ClassVar[str] = "metrics"
    step: int
    step_time_s: float | None = None
    samples_per_s: float | None = None
    tokens_per_s: float | None = None
    learning_rate: float | None = None
    grad_norm: float | None = None
    gpu_mem_allocated: int | None = None
    gpu_mem_reserved: int | None = None
    gpu_util: float | None = None


@dataclass(frozen=True)
class LossPoint(Event):
    """One logged loss: `split` is "train" or "eval"."""

    kind: ClassVar[str] = "loss"
    step: int
    loss: float
    split: str = "train"
    epoch: float | None = None


@dataclass(frozen=True)
class EpochSaved(Event):
    """A per-epoch checkpoint landed on disk."""

    kind: ClassVar[str] = "epoch"
    epoch: float
    step: int
    checkpoint: str
    train_loss: float | None = None
    eval_loss: float | None = None


@dataclass(frozen=True)
class Ended(Event):
    """Base of the three events that end a run; `status` is how it ended, in the store's
    vocabulary (the status its metadata records)."""

    status: ClassVar[Status]


@dataclass(frozen=True)
class Finished(Ended):
    """The run completed; the adapter and metrics are saved."""

    kind: ClassVar[str] = "finished"
    status: ClassVar[Status] = Status.COMPLETED
    version_id: str
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed(Ended):
    """The run failed; `error` is a one-line reason."""

    kind: ClassVar[str] = "failed"
    status: ClassVar[Status] = Status.FAILED
    version_id: str | None
    error: str


@dataclass(frozen=True)
class Cancelled(Ended):
    """The run stopped because it was asked to; saved checkpoints are kept.

    `version_id` is None when it stopped before a version was claimed."""

    kind: ClassVar[str] = "cancelled"
    status: ClassVar[Status] = Status.CANCELLED
    version_id: str | None
    step: int | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        Started,
        LogLine,
        Progress,
        Metrics,
        LossPoint,
        EpochSaved,
        Finished,
        Failed,
        Cancelled,
    )
}
TERMINAL_KINDS = frozenset({Finished.kind, Failed.kind, Cancelled.kind})


def event_to_json(event: Event) -> str:
    """One line of `events.jsonl`."""
    return json.dumps(event.to_dict(), ensure_ascii=False, default=str)


def event_from_dict(data: object) -> Event | None:
    """Rebuild an event from its JSON form; None for anything malformed or unknown.

    The log file is untrusted like every file in a user's folder.
    """
    if not isinstance(data, dict):
        return None
    cls = EVENT_TYPES.get(str(data.get("kind")))
    if cls is None:
        return None
    values = {}
    for spec in fields(cls):
        if spec.name in data:
            value = data[spec.name]
            if not _type_ok(str(spec.type), value):
                return None  # e.g. a "log" whose text is a list: the app would trip on it
            values[spec.name] = value
    try:
        return cls(**values)
    except TypeError:
        return None


def _type_ok(annotation: str, value: object) -> bool:
    """Whether a JSON value fits a field annotated `str`, `int`, `float`, `... | None`
    or `dict[...]` (annotations are strings here: `from __future__ import annotations`)."""
    if value is None:
        return annotation.endswith("| None")
    kind = annotation.split("|")[0].strip()
    if isinstance(value, bool):
        return False
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int)
    if kind == "float":
        return isinstance(value, int | float)
    if kind.startswith("dict"):
        return isinstance(value, dict)
    return True


def parse_event_lines(chunk: bytes) -> tuple[list[Event], int]:
    """Parse the complete lines of `chunk`; return the events and the bytes consumed.

    A trailing partial line (a writer mid-append) is left for the next read.
    """
    end = chunk.rfind(b"\n") + 1
    events: list[Event] = []
    for raw in chunk[:end].splitlines():
        try:
            event = event_from_dict(json.loads(raw.decode("utf-8", errors="replace")))
        except (json.JSONDecodeError, RecursionError):
            continue
        if event is not None:
            events.append(event)
    return events, end
