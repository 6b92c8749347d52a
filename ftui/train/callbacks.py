"""Watching a Trainer: progress, losses, per-epoch records, cancellation.

`RunMonitor` holds the logic and no Hugging Face import, so it is testable alone;
`make_trainer_callback` wraps it in a `TrainerCallback` (importing transformers inside
the function). Everything on the per-step path is a few comparisons: writes happen at
most every `progress_interval` seconds and at epoch ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .events import EpochSaved, LossPoint, Progress
from .metrics import MetricsMeter, finite_float
from .sink import EventSink

EpochRecorder = Callable[[list[dict[str, Any]]], None]
CheckpointRecorder = Callable[[str, Path], None]


def _epoch_number(epoch: float | None) -> float | int | None:
    if epoch is None:
        return None
    rounded = round(float(epoch), 4)
    return int(rounded) if rounded == int(rounded) else rounded


class RunMonitor:
    """Turns Trainer callbacks into ftui events and epoch records."""

    def __init__(
        self,
        sink: EventSink,
        stop: threading.Event | None,
        record_epochs: EpochRecorder | None = None,
        progress_interval: float = 0.25,
        is_main: bool = True,
        meter: MetricsMeter | None = None,
        record_checkpoint: CheckpointRecorder | None = None,
    ) -> None:
        self.sink = sink
        self.meter = meter if is_main else None
        # Under a launcher: `agree(asked) -> stop now`, the same answer on every rank
        # (dist_stop.StopAgreement); None for a single process.
        self.agree: Callable[[bool], bool] | None = None
        self.stop = stop
        self.record_epochs = record_epochs
        self.progress_interval = progress_interval
        self.is_main = is_main
        self.record_checkpoint = record_checkpoint
        self.epochs: list[dict[str, Any]] = []
        self.stopped_at: int | None = None
        self._train_losses: list[float] = []
        self._last_eval: float | None = None
        self._start_time = 0.0
        self._start_step = 0
        self._last_progress = 0.0
        self.last_step = 0
        self.total_steps = 0

    @property
    def stopping(self) -> bool:
        return self.stopped_at is not None

    def train_begin(self, total_steps: int, start_step: int) -> None:
        self.total_steps = total_steps
        self._start_step = start_step
        self._start_time = time.monotonic()
        if self.meter is not None:
            self.meter.begin(self._start_time, start_step)

    def step_end(self, step: int, total: int, epoch: float | None) -> bool:
        """Called after every optimizer step; True when training must stop now."""
        self.last_step = step
        now = time.monotonic()
        if self.meter is not None and self.meter.due(now, final=step == total):
            self.sink.emit(self.meter.sample(now, step))  # before progress: shown with it
        if self.is_main and (
            step == total
            or step == self._start_step + 1
            or now - self._last_progress >= self.progress_interval
        ):
            self._last_progress = now
            done = step - self._start_step
            eta = (now - self._start_time) / done * (total - step) if done > 0 else None
            self.sink.emit(Progress(step=step, total=total, epoch=_epoch_number(epoch), eta_s=eta))
        asked = self.stop is not None and self.stop.is_set()
        if self.agree is not None:  # several processes: all stop after the same step
            asked = self.agree(asked) or self.stopped_at is not None
        if asked:
            if self.stopped_at is None:
                self.stopped_at = step
                if self.meter is not None and self.meter.behind(step):
                    # stopped between samples: its last steps count in the summary too
                    self.sink.emit(self.meter.sample(now, step))
                if self.is_main:
                    self.sink.log(f"stop requested: stopping after step {step}")
            return True
        return False

    def log(self, logs: dict[str, Any] | None, step: int, epoch: float | None) -> None:
        if not logs or not self.is_main:
            return
        if self.meter is not None:
            self.meter.logged(logs)
        train = finite_float(logs.get("loss"))
        if train is not None:
            self._train_losses.append(train)
            self.sink.emit(
                LossPoint(step=step, loss=train, split="train", epoch=_epoch_number(epoch))
            )
        evaluated = finite_float(logs.get("eval_loss"))
        if evaluated is not None:
            self._last_eval = evaluated
            self.sink.emit(
                LossPoint(step=step, loss=evaluated, split="eval", epoch=_epoch_number(epoch))
            )

    def saved(self, step: int, epoch: float | None, folder: Path | None = None) -> None:
        """A `checkpoint-<step>/` (in `folder`) was written completely at an epoch end:
        record its files' digests and the epoch."""
        if not self.is_main:
            return
        losses, self._train_losses = self._train_losses, []
        number = _epoch_number(epoch)
        checkpoint = f"checkpoint-{step}"
        if folder is not None and self.record_checkpoint is not None:
            self.record_checkpoint(checkpoint, folder)
        train_loss = sum(losses) / len(losses) if losses else None
        eval_loss, self._last_eval = self._last_eval, None
        self.epochs.append(
            {
                "epoch": number,
                "step": step,
                "checkpoint": checkpoint,
                "train_loss": train_loss,
                "eval_loss": eval_loss,
            }  # fmt: skip
        )
        if self.record_epochs is not None:
            self.record_epochs(list(self.epochs))
        self.sink.emit(
            EpochSaved(
                epoch=float(number or 0),
                step=step,
                checkpoint=checkpoint,
                train_loss=train_loss,
                eval_loss=eval_loss,
            )
        )
        parts = [f"epoch {number}: saved {checkpoint}"]
        if train_loss is not None:
            parts.append(f"train loss {train_loss:.4f}")
        if eval_loss is not None:
            parts.append(f"eval loss {eval_loss:.4f}")
        self.sink.log(", ".join(parts))


def make_trainer_callback(monitor: RunMonitor) -> Any:
    """A `transformers.TrainerCallback` that drives `monitor` and honours its stop."""
    from transformers import TrainerCallback

    class FtuiCallback(TrainerCallback):
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            monitor.train_begin(state.max_steps, state.global_step)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if monitor.step_end(state.global_step, state.max_steps, state.epoch):
                control.should_training_stop = True

        def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if monitor.stopping:  # a cancelled epoch is not a finished one: save nothing
                control.should_save = False
                control.should_evaluate = False

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            monitor.log(logs, state.global_step, state.epoch)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            monitor.saved(state.global_step, state.epoch, folder)

    return FtuiCallback()
