"""Numbers as people read them: epochs, steps on plot axes, plurals, row losses."""

from __future__ import annotations

from pathlib import Path

from app_helpers import V1, open_browser, settle, text

from ftui.app.format import fmt_epoch, fmt_row_loss
from ftui.app.widgets.loss_plot import LossPlot, step_ticks
from ftui.store import LossHistory
from ftui.store.text import plural


def test_epochs_are_rounded() -> None:
    assert fmt_epoch(0.969697) == "0.97"
    assert fmt_epoch(3.0) == "3" and fmt_epoch(None) == "—"
    assert fmt_row_loss(1.51649) == "1.516"


def test_plural() -> None:
    assert plural(1, "epoch") == "1 epoch" and plural(3, "epoch") == "3 epochs"
    assert plural(0.5, "epoch") == "0.5 epochs"


def test_steps_on_axes_are_whole_numbers() -> None:
    for low, high in ((1, 30), (0, 7), (10, 10_000), (3, 4)):
        ticks = step_ticks(low, high)
        assert all(isinstance(t, int) for t in ticks) and 2 <= len(ticks) <= 5
        assert ticks[0] == low and ticks[-1] <= high
    assert step_ticks(5, 5) == [5]


async def test_one_point_plot_is_labelled_at_its_step(runs: Path) -> None:
    from ftui.store.history import LossPoint

    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        plot = app.browser.details.query_one(LossPlot)
        plot.show_history(LossHistory(train=(LossPoint(7, 2.5),)))
        await settle(pilot)
        axis = [line for line in text(app).splitlines() if "step" not in line and " 7 " in line]
        assert axis, text(app)
        screen = text(app)
        assert " 2.0 " not in screen and " 6.0 " not in screen


def test_a_running_version_has_no_final_loss(runs: Path) -> None:
    from dataclasses import replace

    from ftui.app.widgets.details import summary_rows
    from ftui.store import Status, scan

    version = next(v for v in scan(runs) if v.id == V1)
    rows = dict(summary_rows(replace(version, status=Status.RUNNING)))
    assert str(rows["train loss"]).startswith("latest ")
    assert str(rows["eval loss"]).startswith("latest ")
    assert str(dict(summary_rows(version))["eval loss"]).startswith("final ")
