"""The run view's compact metrics panel: step time, throughput, learning rate, grad
norm and GPU memory/utilisation, one `label value` row each.

Rows appear as the run reports them: GPU rows only when the run is on a CUDA device,
utilisation only when NVML is installed. Until the first sample it says so.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from ftui.train.events import Metrics
from ftui.train.metrics import metric_rows


class RunMetrics(Static):
    """Shows one `Metrics` sample (the latest); `show(None)` before the first."""

    def show(self, metrics: Metrics | None) -> None:
        rows = metric_rows(metrics)
        if not rows:
            self.update(Text("metrics appear\nafter the first steps", style="dim"))
            return
        table = Table.grid(padding=(0, 1))
        table.add_column(style="dim", no_wrap=True)
        table.add_column(justify="right", no_wrap=True)
        for label, value in rows:
            table.add_row(label, value)
        self.update(table)
