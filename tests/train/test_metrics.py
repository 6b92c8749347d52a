"""Metrics a GPU user watches: sampling, formatting, the event's JSON form, and what a
real run reports (throughput, learning rate, grad norm; GPU fields only on CUDA)."""

from __future__ import annotations

import json
import math
import threading

import pytest

from ftui.train.callbacks import RunMonitor
from ftui.train.events import Event, Metrics, event_from_dict, event_to_json
from ftui.train.gpu import make_probe, physical_index
from ftui.train.metrics import (
    MetricsMeter,
    combined_performance,
    metric_line,
    metric_rows,
    performance_line,
)
from ftui.train.sink import EventSink

from .conftest import TrainedRun


def test_meter_averages_since_the_previous_sample() -> None:
    meter = MetricsMeter(samples_per_step=16, tokens_per_sample=100.0, interval=1.0)
    meter.begin(10.0, 0)
    assert not meter.due(10.5) and meter.due(10.5, final=True) and meter.due(11.0)
    meter.logged({"loss": 2.0, "learning_rate": 1e-4, "grad_norm": 0.5})
    first = meter.sample(12.0, 4)  # 4 steps in 2 s
    assert first.step_time_s == 0.5 and first.samples_per_s == 32.0
    assert first.tokens_per_s == 3200.0
    assert (first.learning_rate, first.grad_norm) == (1e-4, 0.5)
    meter.logged({"grad_norm": float("nan")})  # kept: the last finite value
    second = meter.sample(13.0, 8)  # 4 steps in 1 s
    assert second.step_time_s == 0.25 and second.samples_per_s == 64.0
    assert second.grad_norm == 0.5
    assert (second.gpu_mem_allocated, second.gpu_mem_reserved, second.gpu_util) == (None,) * 3


def test_probe_values_and_a_failing_probe() -> None:
    calls = []

    def probe() -> tuple[int | None, int | None, float | None]:
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("driver went away")
        return 2 << 30, 3 << 30, 55.0

    meter = MetricsMeter(8, None, probe)
    meter.begin(0.0, 0)
    sample = meter.sample(1.0, 2)
    assert (sample.gpu_mem_allocated, sample.gpu_mem_reserved, sample.gpu_util) == (
        2 << 30, 3 << 30, 55.0,
    )  # fmt: skip
    assert sample.tokens_per_s is None
    assert meter.sample(2.0, 4).gpu_mem_allocated is None  # failed once: never called again
    meter.sample(3.0, 6)
    assert len(calls) == 2


def test_monitor_emits_metrics_about_once_a_second_and_at_the_last_step() -> None:
    seen: list[Event] = []
    meter = MetricsMeter(8, interval=3600)
    monitor = RunMonitor(EventSink(seen.append, write_file=False), None, meter=meter)
    monitor.train_begin(total_steps=50, start_step=0)
    for step in range(1, 51):
        monitor.step_end(step, 50, step / 50)
    assert [e.step for e in seen if isinstance(e, Metrics)] == [50]
    assert RunMonitor(EventSink(None, False), None, is_main=False, meter=meter).meter is None


def test_a_run_stopped_between_samples_counts_its_last_steps() -> None:
    """Cancelled at step 7, before a sample was due: the summary still holds 7 steps (a
    run cancelled in its first second recorded no throughput at all)."""
    seen: list[Event] = []
    stop = threading.Event()
    meter = MetricsMeter(8, interval=3600)
    monitor = RunMonitor(EventSink(seen.append, write_file=False), stop, meter=meter)
    monitor.train_begin(total_steps=50, start_step=0)
    for step in range(1, 8):
        if step == 7:
            stop.set()
        stopping = monitor.step_end(step, 50, step / 50)
    assert stopping and [e.step for e in seen if isinstance(e, Metrics)] == [7]
    assert meter.summary()["steps"] == 7
    monitor.step_end(8, 50, 8 / 50)  # (a step the Trainer takes anyway: no second sample)
    assert [e.step for e in seen if isinstance(e, Metrics)] == [7]


def test_rows_show_what_is_known_and_hide_the_rest() -> None:
    cpu = Metrics(step=5, step_time_s=0.214, samples_per_s=37.4, tokens_per_s=48_620.0,
                  learning_rate=1.5e-4, grad_norm=0.73)  # fmt: skip
    assert metric_rows(cpu) == [
        ("step time", "214 ms"), ("samples/s", "37.4"), ("tokens/s", "48.6k"),
        ("learning rate", "1.50e-04"), ("grad norm", "0.73"),
    ]  # fmt: skip
    assert metric_line(cpu) == (
        "214 ms/step · 37.4 samples/s · 48.6k tok/s · lr 1.50e-04 · grad norm 0.73"
    )
    gpu = Metrics(step=5, step_time_s=2.5, gpu_mem_allocated=3 << 30,
                  gpu_mem_reserved=4 << 30, gpu_util=87.0)  # fmt: skip
    assert dict(metric_rows(gpu))["GPU util"] == "87%"
    assert metric_line(gpu) == "2.50 s/step · GPU mem 3.0 GB (4.0 GB reserved) · util 87%"
    assert metric_rows(None) == [] and metric_line(None) == ""


def test_hostile_values_are_hidden_not_shown() -> None:
    line = b'{"kind": "metrics", "step": 1, "step_time_s": NaN, "samples_per_s": -3,' \
        b' "grad_norm": Infinity, "gpu_util": 1e308}'  # fmt: skip
    event = event_from_dict(json.loads(line))
    assert isinstance(event, Metrics)
    assert metric_rows(event) == []  # NaN, negative, infinite, a utilisation over 100%
    huge = Metrics(step=1, samples_per_s=1e300, tokens_per_s=5e13, gpu_mem_allocated=1 << 70)
    assert metric_rows(huge) == [("tokens/s", "5e+13")]
    assert event_from_dict({"kind": "metrics", "step": 1, "gpu_mem_allocated": "lots"}) is None


def test_the_terminal_progress_line_carries_the_latest_metrics() -> None:
    import io

    from ftui.train.commands import _Printer
    from ftui.train.events import Progress

    stream = io.StringIO()
    printer = _Printer(quiet=False, stream=stream)
    printer(Progress(step=1, total=4))
    printer(Metrics(step=4, step_time_s=0.5, samples_per_s=16.0, learning_rate=2e-4))
    printer(Progress(step=4, total=4, epoch=1.0, eta_s=0.0))
    assert stream.getvalue().splitlines() == [
        "step 1/4",
        "step 4/4 (epoch 1.00), 0s left · 500 ms/step · 16.0 samples/s · lr 2.00e-04",
    ]


def test_metrics_round_trip_through_the_log() -> None:
    event = Metrics(step=3, samples_per_s=12.5, gpu_mem_allocated=1024)
    assert event_from_dict(json.loads(event_to_json(event))) == event


@pytest.mark.parametrize(
    ("visible", "index", "expected"),
    [(None, 1, 1), ("", 0, 0), ("2,3", 1, 3), (" 3 , 1", 0, 3),
     ("GPU-8a1b,GPU-77ff", 1, "GPU-77ff"), ("1", 4, 4)],
)  # fmt: skip
def test_nvml_sees_the_physical_device(visible: str | None, index: int, expected: object) -> None:
    assert physical_index(index, visible) == expected


def test_no_probe_on_a_cpu() -> None:
    import torch

    assert make_probe("cpu") is None
    if not torch.cuda.is_available():
        assert make_probe("cuda") is None  # asked for CUDA, none here: nothing to report


def test_the_summary_covers_the_whole_run_and_the_peak_memory() -> None:
    peaks = iter([(2 << 30, 3 << 30, None), (5 << 30, 6 << 30, None), (1 << 30, 6 << 30, None)])
    meter = MetricsMeter(8, 100.0, lambda: next(peaks))
    assert meter.summary() == {}  # nothing timed yet
    meter.begin(10.0, 0)
    meter.sample(12.0, 4)  # 4 steps in 2 s
    meter.sample(13.0, 4)  # no step since: not counted
    meter.sample(16.0, 12)  # 8 steps in 3 s
    summary = meter.summary()
    assert summary == {
        "steps": 12, "seconds": 6.0, "step_time_s": 0.5, "samples_per_s": 16.0,
        "tokens_per_s": 1600.0, "gpu_mem_allocated": 5 << 30, "gpu_mem_reserved": 6 << 30,
    }  # fmt: skip
    line = performance_line(summary)
    assert line == "500 ms/step · 16.0 samples/s · 1,600 tok/s · GPU mem 5.0 GB (6.0 GB reserved)"
    # recorded metadata is untrusted: junk reads as nothing, never as a crash
    assert performance_line({"samples_per_s": "fast", "step_time_s": float("nan")}) == ""
    assert performance_line(["not", "a", "mapping"]) == ""


def test_a_resumed_runs_performance_covers_every_segment() -> None:
    earlier = {"steps": 10, "seconds": 5.0, "step_time_s": 0.5, "samples_per_s": 16.0,
               "tokens_per_s": 1600.0, "gpu_mem_allocated": 5 << 30}  # fmt: skip
    later = {"steps": 30, "seconds": 5.0, "step_time_s": 1 / 6, "samples_per_s": 48.0,
             "tokens_per_s": 4800.0, "gpu_mem_allocated": 4 << 30,
             "gpu_mem_reserved": 6 << 30}  # fmt: skip
    assert combined_performance(earlier, later) == {
        "steps": 40, "seconds": 10.0, "step_time_s": 0.25, "samples_per_s": 32.0,
        "tokens_per_s": 3200.0, "gpu_mem_allocated": 5 << 30, "gpu_mem_reserved": 6 << 30,
    }  # fmt: skip
    assert combined_performance(earlier, {}) == earlier  # nothing timed since the resume
    no_tokens = combined_performance({**earlier, "tokens_per_s": None}, later)
    assert no_tokens["tokens_per_s"] is None and no_tokens["samples_per_s"] == 32.0
    # the earlier record is untrusted metadata: junk leaves this segment's summary alone
    for junk in (None, [1], {"steps": True, "seconds": 5.0, "samples_per_s": 1.0},
                 {"steps": 10, "seconds": "five", "samples_per_s": 16.0},
                 {"steps": 10, "seconds": 5.0, "samples_per_s": float("nan")}):  # fmt: skip
        assert combined_performance(junk, later) == later


def test_a_completed_run_records_its_throughput(trained: TrainedRun) -> None:
    from ftui.store.naming import metadata_file

    version_id = trained.result.version_id
    meta = json.loads(metadata_file(trained.root, version_id).read_text())
    performance = meta["performance"]
    assert performance["steps"] == 12  # every step of the run (48 examples / 8 x 2 epochs)
    assert performance["samples_per_s"] > 0 and performance["step_time_s"] > 0
    assert performance["tokens_per_s"] > performance["samples_per_s"]
    assert "gpu_mem_allocated" not in performance  # a CPU run
    assert any("throughput: " in getattr(e, "text", "") for e in trained.events)


def test_a_real_run_reports_throughput_lr_and_grad_norm(trained: TrainedRun) -> None:
    from transformers import AutoTokenizer

    from ftui.train.paths import local_path

    samples = [e for e in trained.events if isinstance(e, Metrics)]
    assert samples and samples[-1].step == 12  # 48 examples / batch 8 x 2 epochs
    last = samples[-1]
    assert last.step_time_s and last.step_time_s > 0
    assert last.samples_per_s and last.tokens_per_s and last.tokens_per_s > last.samples_per_s
    assert last.learning_rate is not None and 0 < last.learning_rate < 1e-3  # linear decay
    assert last.grad_norm is not None and math.isfinite(last.grad_norm)
    assert last.gpu_mem_allocated is None and last.gpu_util is None  # a CPU run
    # tokens/s = samples/s x the mean tokenized length (EOS appended, cut at max_length)
    tokenizer = AutoTokenizer.from_pretrained(str(local_path(trained.spec.base_model)))
    with open(trained.spec.data, encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle]
    lengths = [min(len(tokenizer(t)["input_ids"]) + 1, 64) for t in texts]
    assert last.tokens_per_s / last.samples_per_s == pytest.approx(sum(lengths) / len(lengths))
