"""Loss history, read lazily from the Trainer's `trainer_state.json` (or the metadata).

The scan never reads histories: they are loaded when a version is selected, plotted,
compared or checked, which keeps listing 10,000 versions fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .fields import as_float, as_int
from .ids import is_valid_id
from .jsonio import ReadError, parse_json, read_bytes, read_json_object
from .model import Checkpoint, Metrics, Problem, Version

TRAINER_STATE = "trainer_state.json"


@dataclass(frozen=True, slots=True)
class LossPoint:
    step: int
    loss: float
    epoch: float | None = None


@dataclass(frozen=True, slots=True)
class LossHistory:
    """Train loss per logged step, eval loss per evaluation, and epoch boundaries (steps)."""

    train: tuple[LossPoint, ...] = ()
    eval: tuple[LossPoint, ...] = ()
    epoch_steps: tuple[int, ...] = ()
    source: str = ""

    @property
    def is_empty(self) -> bool:
        return not self.train and not self.eval

    def non_finite(self) -> list[str]:
        """Descriptions of every NaN/inf loss, e.g. `loss=nan at step 12`."""
        bad = []
        for name, points in (("loss", self.train), ("eval_loss", self.eval)):
            bad += [
                f"{name}={p.loss} at step {p.step}" for p in points if not math.isfinite(p.loss)
            ]
        return bad

    def metrics(self) -> Metrics:
        """Final and best losses as the history shows them."""

        def finite(points: tuple[LossPoint, ...]) -> list[LossPoint]:
            return [p for p in points if math.isfinite(p.loss)]

        train, evals = finite(self.train), finite(self.eval)
        best_eval = min(evals, key=lambda p: p.loss) if evals else None
        return Metrics(
            final_train_loss=train[-1].loss if train else None,
            best_train_loss=min(p.loss for p in train) if train else None,
            final_eval_loss=evals[-1].loss if evals else None,
            best_eval_loss=best_eval.loss if best_eval else None,
            best_epoch=best_eval.epoch if best_eval else None,
        )


def parse_log_history(entries: object, source: str = "") -> LossHistory:
    """Turn a Trainer `log_history` list into a `LossHistory`, skipping malformed entries."""
    if not isinstance(entries, list):
        return LossHistory(source=source)
    train: list[LossPoint] = []
    evals: list[LossPoint] = []
    epoch_steps: list[int] = []
    last_epoch_index = 0
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        step = as_int(entry.get("step"))
        if step is None:
            continue
        epoch = as_float(entry.get("epoch"))
        if "loss" in entry and (loss := as_float(entry["loss"])) is not None:
            train.append(LossPoint(step, loss, epoch))
        if "eval_loss" in entry and (loss := as_float(entry["eval_loss"])) is not None:
            evals.append(LossPoint(step, loss, epoch))
        if epoch is not None and math.isfinite(epoch) and int(epoch) > last_epoch_index:
            if abs(epoch - round(epoch)) < 1e-6:
                epoch_steps.append(step)
            last_epoch_index = int(epoch)
    return LossHistory(tuple(train), tuple(evals), tuple(dict.fromkeys(epoch_steps)), source)


def read_trainer_state(path: Path) -> LossHistory:
    """Read one `trainer_state.json`; raises `ReadError` when it is unreadable."""
    state = read_json_object(path, depth_limit=False)  # only the flat log entries are used
    return parse_log_history(state.get("log_history"), str(path))


def history_sources(version: Version) -> list[Path]:
    """Where a version's history may be, best first (none for an unusable id: its
    "folder" would be the root or outside it)."""
    if not is_valid_id(version.id):
        return []
    paths = [version.path / TRAINER_STATE]
    paths += [c.path / TRAINER_STATE for c in sorted(version.checkpoints, key=lambda c: -c.step)]
    return paths


def load_history(version: Version) -> tuple[LossHistory, list[Problem]]:
    """The loss history of a version, and any problem met while reading it."""
    problems: list[Problem] = []
    for path in history_sources(version):
        try:
            history = read_trainer_state(path)
        except ReadError as exc:
            if str(exc) != "missing":
                problems.append(Problem(_relative(path, version), str(exc)))
            continue
        return history, problems
    for key in ("log_history", "loss_history"):
        if key in version.metadata:
            name = version.metadata_path.name if version.metadata_path else "metadata"
            return parse_log_history(version.metadata[key], f"{name}:{key}"), problems
    return LossHistory(), problems


def history_until(history: LossHistory, step: int) -> LossHistory:
    """The part of `history` logged at or before `step` (what a checkpoint had seen)."""
    return LossHistory(
        tuple(p for p in history.train if p.step <= step),
        tuple(p for p in history.eval if p.step <= step),
        tuple(s for s in history.epoch_steps if s <= step),
        history.source,
    )


def load_selection_history(version: Version, checkpoint: Checkpoint | None = None) -> LossHistory:
    """The loss history of a version, or of one of its checkpoints: the checkpoint's own
    trainer_state.json, else the version's history up to the checkpoint's step."""
    if checkpoint is None:
        return load_history(version)[0]
    own = load_checkpoint_history(checkpoint.path)
    if own.is_empty:
        own = load_history(version)[0]
    return history_until(own, checkpoint.step)


@dataclass(frozen=True, slots=True)
class HistoryCheck:
    """What `--check` needs of a loss history: its final losses and every non-finite one."""

    final_train_loss: float | None = None
    final_eval_loss: float | None = None
    non_finite: tuple[str, ...] = ()
    source: str = ""
    shape: tuple[int, ...] = ()  # how its loss plot is drawn (`history_shape`)


def history_shape(history: LossHistory) -> tuple[int, ...]:
    """What decides how a loss plot is drawn: how many train and eval points (none, one,
    a few, many), epoch lines or not, one distinct loss or several. The app pass of
    `--check` draws one version per shape (ftui/app/check_plan.py)."""

    def count(n: int) -> int:
        return min(n, 3)

    losses = {p.loss for p in (*history.train, *history.eval)}
    return (
        count(len(history.train)),
        count(len(history.eval)),
        count(len(history.epoch_steps)),
        count(len(losses)),
    )


def log_shape(entries: list[Any]) -> tuple[int, ...]:
    """`history_shape(parse_log_history(entries))` without building the history (what
    `--check` needs of every version; a property test holds the two equal). Each count
    stops at 3, and so does the loop once all four have; plain JSON numbers skip the
    field readers."""
    train = evals = 0
    epoch_steps: set[int] = set()
    losses: set[float] = set()
    next_epoch = 1  # parse_log_history's `int(epoch) > last_epoch_index`, as a bound
    for entry in entries:
        if evals >= 3 and train >= 3 and len(epoch_steps) >= 3 and len(losses) >= 3:
            break
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        if type(step) is not int:
            step = as_int(step)
            if step is None:
                continue
        if "loss" in entry:
            loss = entry["loss"]
            if type(loss) is not float:
                loss = as_float(loss)
            if loss is not None:
                train += 1
                if len(losses) < 3:
                    losses.add(loss)
        if "eval_loss" in entry:
            loss = entry["eval_loss"]
            if type(loss) is not float:
                loss = as_float(loss)
            if loss is not None:
                evals += 1
                if len(losses) < 3:
                    losses.add(loss)
        epoch = entry.get("epoch")
        if type(epoch) is not float:
            epoch = as_float(epoch)
        if epoch is not None and epoch >= next_epoch and math.isfinite(epoch):
            if abs(epoch - round(epoch)) < 1e-6:
                epoch_steps.add(step)
            next_epoch = int(epoch) + 1
    return min(train, 3), min(evals, 3), min(len(epoch_steps), 3), min(len(losses), 3)


def _last_finite(entries: list[Any], key: str) -> float | None:
    """The last finite `key` of log entries that have a step (as `parse_log_history` reads
    them), looking from the end: no point objects built."""
    for entry in reversed(entries):
        if type(entry) is dict and key in entry and as_int(entry.get("step")) is not None:
            value = as_float(entry[key])
            if value is not None and math.isfinite(value):
                return value
    return None


def check_history(version: Version, shape: bool = True) -> tuple[HistoryCheck, list[Problem]]:
    """The loss history as `--check` reads it: each file read once, and the full parse of
    the log only when its bytes hold `NaN` or `Infinity` (the only way a loss in JSON text
    can be non-finite). `shape`: also how its plot is drawn (for the app pass only)."""
    problems: list[Problem] = []
    for path in history_sources(version):
        try:
            data = read_bytes(path)
            state = parse_json(data, depth_limit=False)
            if not isinstance(state, dict):
                raise ReadError(f"expected a JSON object, found {type(state).__name__}")
        except ReadError as exc:
            if str(exc) != "missing":
                problems.append(Problem(_relative(path, version), str(exc)))
            continue
        entries = state.get("log_history")
        if not isinstance(entries, list):
            return HistoryCheck(source=str(path)), problems
        bad: tuple[str, ...] = ()
        if b"NaN" in data or b"Infinity" in data:
            bad = tuple(parse_log_history(entries).non_finite())
        final_eval = _last_finite(entries, "eval_loss") if b'"eval_loss"' in data else None
        final_train = _last_finite(entries, "loss")
        drawn = log_shape(entries) if shape else ()  # groups versions for the app pass
        return HistoryCheck(final_train, final_eval, bad, str(path), drawn), problems
    history, more = load_history(version)  # the metadata's own log, if any (rare)
    metrics = history.metrics()
    return HistoryCheck(
        metrics.final_train_loss,
        metrics.final_eval_loss,
        tuple(history.non_finite()),
        history.source,
        history_shape(history),
    ), problems + more


def load_checkpoint_history(path: Path) -> LossHistory:
    """The history saved in one checkpoint folder (empty when unreadable)."""
    try:
        return read_trainer_state(path / TRAINER_STATE)
    except ReadError:
        return LossHistory()


def _relative(path: Path, version: Version) -> str:
    try:
        return str(path.relative_to(version.path.parent))
    except ValueError:
        return str(path)


def with_history_metrics(version: Version, history: LossHistory | None = None) -> Version:
    """`version` with the metrics its metadata lacks filled in from its loss history.

    Tutorial and Trainer folders record no metrics; the app calls this in a worker after
    the first screen so the loss column fills in without slowing the scan.
    """
    m = version.metrics
    if history is None:
        if m.final_train_loss is not None and m.final_eval_loss is not None:
            return version
        history, _ = load_history(version)
    h = history.metrics()
    filled = replace(
        m,
        final_train_loss=m.final_train_loss
        if m.final_train_loss is not None
        else h.final_train_loss,
        best_train_loss=m.best_train_loss if m.best_train_loss is not None else h.best_train_loss,
        final_eval_loss=m.final_eval_loss if m.final_eval_loss is not None else h.final_eval_loss,
        best_eval_loss=m.best_eval_loss if m.best_eval_loss is not None else h.best_eval_loss,
        best_epoch=m.best_epoch if m.best_epoch is not None else h.best_epoch,
    )
    return version if filled == m else replace(version, metrics=filled)
