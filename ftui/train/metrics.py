"""Training metrics a GPU user watches: how they are sampled and how they read.

`MetricsMeter` turns step ends (a clock reading and a step number) into `Metrics` events
about once a second: step time and throughput averaged since the previous sample, the
Trainer's latest logged learning rate and grad norm, and whatever the hardware probe
reports (GPU memory, utilisation). Everything on the per-step path is a comparison; the
rest runs at most once per `interval`. `metric_rows`/`metric_line` format an event for
the run view and the terminal. No torch here (see `gpu.py` for the probe).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ftui.store import human_size

from .events import Metrics

# A probe returns (peak allocated bytes, peak reserved bytes, utilisation %), None if unknown.
HardwareSample = tuple[int | None, int | None, float | None]
Probe = Callable[[], HardwareSample]

METRICS_INTERVAL_S = 1.0


def finite_float(value: Any) -> float | None:
    """`value` as a finite float, or None (a log entry may hold anything)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class MetricsMeter:
    """Samples `Metrics` from step ends; `samples_per_step` counts every process."""

    def __init__(
        self,
        samples_per_step: int,
        tokens_per_sample: float | None = None,
        probe: Probe | None = None,
        interval: float = METRICS_INTERVAL_S,
    ) -> None:
        self.samples_per_step = max(1, samples_per_step)
        self.tokens_per_sample = tokens_per_sample
        self.probe = probe
        self.interval = interval
        self.learning_rate: float | None = None
        self.grad_norm: float | None = None
        self._last_time: float | None = None
        self._last_step = 0
        self._probe_failed = False
        self._steps = 0  # over the whole run (this process's part of it): the summary
        self._elapsed = 0.0
        self._peak_allocated: int | None = None
        self._peak_reserved: int | None = None

    def begin(self, now: float, step: int) -> None:
        self._last_time, self._last_step = now, step

    def logged(self, logs: dict[str, Any]) -> None:
        """The Trainer's log dict: keep its learning rate and grad norm."""
        rate = finite_float(logs.get("learning_rate"))
        if rate is not None:
            self.learning_rate = rate
        norm = finite_float(logs.get("grad_norm"))
        if norm is not None:
            self.grad_norm = norm

    def behind(self, step: int) -> bool:
        """Whether steps were taken since the last sample."""
        return self._last_time is not None and step > self._last_step

    def due(self, now: float, final: bool = False) -> bool:
        return self._last_time is not None and (final or now - self._last_time >= self.interval)

    def sample(self, now: float, step: int) -> Metrics:
        """The metrics since the previous sample (call when `due`)."""
        step_time = samples = tokens = None
        steps = step - self._last_step
        elapsed = now - (self._last_time if self._last_time is not None else now)
        if elapsed > 0:  # the summary: all the wall time from the first step to the last
            self._steps += max(steps, 0)
            self._elapsed += elapsed
        if steps > 0 and elapsed > 0:
            step_time = elapsed / steps
            samples = steps * self.samples_per_step / elapsed
            if self.tokens_per_sample is not None:
                tokens = samples * self.tokens_per_sample
        self._last_time, self._last_step = now, step
        allocated = reserved = utilisation = None
        if self.probe is not None and not self._probe_failed:
            try:
                allocated, reserved, utilisation = self.probe()
            except Exception:  # noqa: BLE001 - a driver hiccup must not stop training
                self._probe_failed = True
        self._peak_allocated = _peak(self._peak_allocated, allocated)
        self._peak_reserved = _peak(self._peak_reserved, reserved)
        return Metrics(
            step=step,
            step_time_s=step_time,
            samples_per_s=samples,
            tokens_per_s=tokens,
            learning_rate=self.learning_rate,
            grad_norm=self.grad_norm,
            gpu_mem_allocated=allocated,
            gpu_mem_reserved=reserved,
            gpu_util=utilisation,
        )

    def summary(self) -> dict[str, Any]:
        """The whole run's throughput (wall time between the first and the last step,
        evaluation and checkpoint saves included) and peak GPU memory, for the metadata's
        `performance` (fields named as in `Metrics`); {} before any step was timed."""
        if self._steps <= 0 or self._elapsed <= 0:
            return {}
        samples = self._steps * self.samples_per_step / self._elapsed
        summary: dict[str, Any] = {
            "steps": self._steps,
            "seconds": round(self._elapsed, 3),
            "step_time_s": self._elapsed / self._steps,
            "samples_per_s": samples,
            "tokens_per_s": None if self.tokens_per_sample is None
            else samples * self.tokens_per_sample,
        }  # fmt: skip
        if self._peak_allocated is not None:
            summary["gpu_mem_allocated"] = self._peak_allocated
        if self._peak_reserved is not None:
            summary["gpu_mem_reserved"] = self._peak_reserved
        return summary


def combined_performance(earlier: object, later: Mapping[str, Any]) -> dict[str, Any]:
    """One `performance` for a run resumed in place: what its metadata recorded for the
    segments before (`earlier`, untrusted: ignored unless usable) and this segment's
    summary. Steps and seconds add up (redone steps count: they were work done), rates
    are recomputed from the totals, peaks are the larger."""
    if not isinstance(earlier, Mapping):
        return dict(later)
    steps, seconds = earlier.get("steps"), finite_float(earlier.get("seconds"))
    samples_per_s = finite_float(earlier.get("samples_per_s"))
    usable = isinstance(steps, int) and not isinstance(steps, bool) and steps > 0
    if not (usable and seconds and seconds > 0 and samples_per_s):
        return dict(later)
    if not later:
        return dict(earlier)
    total_steps, total_seconds = steps + later["steps"], seconds + later["seconds"]
    samples = samples_per_s * seconds + later["samples_per_s"] * later["seconds"]
    tokens_before, tokens_now = finite_float(earlier.get("tokens_per_s")), later["tokens_per_s"]
    combined: dict[str, Any] = {
        "steps": total_steps,
        "seconds": round(total_seconds, 3),
        "step_time_s": total_seconds / total_steps,
        "samples_per_s": samples / total_seconds,
        "tokens_per_s": None if tokens_before is None or tokens_now is None
        else (tokens_before * seconds + tokens_now * later["seconds"]) / total_seconds,
    }  # fmt: skip
    for name in ("gpu_mem_allocated", "gpu_mem_reserved"):
        before = earlier.get(name)
        peak = _peak(before if isinstance(before, int) else None, later.get(name))
        if peak is not None:
            combined[name] = peak
    return combined


def _peak(current: int | None, value: int | None) -> int | None:
    if value is None:
        return current
    return value if current is None else max(current, value)


# -- reading them ----------------------------------------------------------------------


def _rate(value: float) -> str:
    if value >= 10_000_000:
        return f"{value:.3g}"
    if value >= 10_000:
        return f"{value / 1000:,.1f}k"
    return f"{value:,.1f}" if value < 1000 else f"{value:,.0f}"


def _seconds(value: float) -> str:
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


def _number(value: Any) -> float | None:
    """A finite number from an event field (the log file is untrusted: NaN parses too)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


# label, Metrics field, formatter, largest value shown (anything else is not believable)
_ROWS: tuple[tuple[str, str, Callable[[float], str], float], ...] = (
    ("step time", "step_time_s", _seconds, 1e7),
    ("samples/s", "samples_per_s", _rate, 1e12),
    ("tokens/s", "tokens_per_s", _rate, 1e15),
    ("learning rate", "learning_rate", lambda v: f"{v:.3g}" if v >= 0.01 else f"{v:.2e}", 1e6),
    ("grad norm", "grad_norm", lambda v: f"{v:.3g}", 1e300),
    ("GPU peak alloc", "gpu_mem_allocated", human_size, 1 << 60),
    ("GPU peak resv", "gpu_mem_reserved", human_size, 1 << 60),
    ("GPU util", "gpu_util", lambda v: f"{v:.0f}%", 100),
)
# how each row reads on one terminal line (`metric_line`)
_LINE = {
    "step time": "{}/step",
    "samples/s": "{} samples/s",
    "tokens/s": "{} tok/s",
    "learning rate": "lr {}",
    "grad norm": "grad norm {}",
    "GPU peak alloc": "GPU mem {}",
    "GPU util": "util {}",
}


def metric_rows(metrics: Metrics | None) -> list[tuple[str, str]]:
    """(label, value) for every metric known; GPU rows only when a GPU reported them."""
    if metrics is None:
        return []
    rows: list[tuple[str, str]] = []
    for label, name, form, largest in _ROWS:
        number = _number(getattr(metrics, name))
        if number is not None and 0 <= number <= largest:
            rows.append((label, form(number)))
    return rows


def performance_line(performance: object) -> str:
    """A version's recorded `performance` (untrusted metadata) as one line:
    `17 ms/step · 462.0 samples/s · 16.1k tok/s · GPU mem 3.0 GB (4.0 GB reserved)`."""
    if not isinstance(performance, Mapping):
        return ""
    names = ("step_time_s", "samples_per_s", "tokens_per_s", "gpu_mem_allocated",
             "gpu_mem_reserved")  # fmt: skip
    return metric_line(Metrics(step=0, **{n: performance.get(n) for n in names}))


def metric_line(metrics: Metrics | None) -> str:
    """One compact line for a terminal: `214 ms/step · 37.4 samples/s · lr 1.49e-04 · …`."""
    rows = dict(metric_rows(metrics))
    parts = [_LINE[label].format(value) for label, value in rows.items() if label in _LINE]
    if "GPU peak resv" in rows:
        reserved = f"({rows['GPU peak resv']} reserved)"
        parts = [f"{p} {reserved}" if p.startswith("GPU mem") else p for p in parts]
    return " · ".join(parts)
