"""RunMonitor and EventSink without a Trainer: throttled progress, stop, epoch records."""

from __future__ import annotations

import threading
from pathlib import Path

from ftui.train.callbacks import RunMonitor
from ftui.train.events import EpochSaved, Event, LogLine, LossPoint, Progress, parse_event_lines
from ftui.train.sink import EventSink


def test_progress_is_throttled_but_first_and_last_steps_always_show() -> None:
    seen: list[Event] = []
    monitor = RunMonitor(EventSink(seen.append, write_file=False), None, progress_interval=3600)
    monitor.train_begin(total_steps=100, start_step=0)
    stops = [monitor.step_end(step, 100, step / 10) for step in range(1, 101)]
    assert not any(stops)
    assert [e.step for e in seen if isinstance(e, Progress)] == [1, 100]


def test_stop_is_reported_once_and_remembered() -> None:
    stop = threading.Event()
    monitor = RunMonitor(EventSink(None, write_file=False), stop)
    monitor.train_begin(10, 0)
    assert monitor.step_end(1, 10, 0.1) is False
    stop.set()
    assert monitor.step_end(2, 10, 0.2) is True and monitor.stopped_at == 2
    assert monitor.step_end(3, 10, 0.3) is True and monitor.stopped_at == 2


def test_epoch_records_average_the_epochs_train_losses() -> None:
    recorded: list[list[dict]] = []
    seen: list[Event] = []
    monitor = RunMonitor(EventSink(seen.append, write_file=False), None, recorded.append)
    monitor.log({"loss": 2.0}, 1, 0.5)
    monitor.log({"loss": 4.0}, 2, 1.0)
    monitor.log({"eval_loss": 3.5}, 2, 1.0)
    monitor.saved(2, 1.0)
    monitor.log({"loss": float("nan")}, 3, 1.5)  # non-finite: no point, no average
    monitor.saved(4, 2.0)
    assert recorded[-1] == [
        {"epoch": 1, "step": 2, "checkpoint": "checkpoint-2", "train_loss": 3.0, "eval_loss": 3.5},
        {
            "epoch": 2,
            "step": 4,
            "checkpoint": "checkpoint-4",
            "train_loss": None,
            "eval_loss": None,
        },
    ]
    assert len([e for e in seen if isinstance(e, LossPoint)]) == 3
    assert [e.checkpoint for e in seen if isinstance(e, EpochSaved)] == [
        "checkpoint-2",
        "checkpoint-4",
    ]


def test_sink_writes_early_events_once_the_folder_exists(tmp_path: Path) -> None:
    sink = EventSink(None)
    sink.emit(LogLine(text="before"))
    sink.attach(tmp_path)
    sink.emit(LogLine(text="after"))
    sink.close()
    events, _ = parse_event_lines((tmp_path / "events.jsonl").read_bytes())
    assert [e.text for e in events if isinstance(e, LogLine)] == ["before", "after"]
