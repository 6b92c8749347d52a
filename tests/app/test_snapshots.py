"""SVG snapshots of the main screens, at 80×24 and 120×40 (update: --snapshot-update).

They run over the deterministic fixture folder (see app_helpers.make_runs), opened by a
relative path so no temporary path reaches the screen; times shown are absolute.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from app_helpers import V1, V2, V3, make_runs, settle
from textual.pilot import Pilot

from ftui.app.main import FtuiApp
from ftui.app.run_state import RunState
from ftui.train.events import EpochSaved, LogLine, LossPoint, Metrics, Progress, Started

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FtuiApp:
    make_runs(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    return FtuiApp(Path("runs"), poll_interval=0)


def steps(
    *keys: str, select: tuple[str, str | None] | None = (V2, None)
) -> Callable[[Pilot[Any]], Awaitable[None]]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        app = pilot.app
        assert isinstance(app, FtuiApp)
        if select is not None:
            app.browser.version_tree.select_key(select)
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_browser(app: FtuiApp, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=steps())


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_compare(app: FtuiApp, snap_compare: Any, size: tuple[int, int]) -> None:
    assert snap_compare(app, terminal_size=size, run_before=steps("c"))


def test_compare_different_bases_all_settings(app: FtuiApp, snap_compare: Any) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await steps(select=(V1, None))(pilot)
        await pilot.press("space")
        assert isinstance(pilot.app, FtuiApp)
        pilot.app.browser.version_tree.select_key((V3, None))
        await pilot.press("space", "c")
        await settle(pilot)
        await pilot.press("a")

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_details_open(app: FtuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("enter", "pagedown"))


def test_filter(app: FtuiApp, snap_compare: Any) -> None:
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=steps("slash", *"tag:best", "enter")
    )


def test_help(app: FtuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("question_mark"))


def test_delete_confirmation(app: FtuiApp, snap_compare: Any) -> None:
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps("d"))


def test_train_form_retrain(app: FtuiApp, snap_compare: Any) -> None:
    assert snap_compare(
        app, terminal_size=(80, 24), run_before=steps("R", *["down"] * 5, "9", select=(V3, None))
    )


def run_events() -> list[object]:
    """A GPU run part-way through its second epoch, as its events.jsonl would say."""
    events: list[object] = [
        Started("v_20261125_101500", "runs/v_20261125_101500"),
        LogLine("training 260 examples (40 eval) for 3 epochs on cuda (bf16)"),
    ]
    for step in range(1, 51):
        events.append(LossPoint(step, 3.0 - step * 0.03 + (step % 5) * 0.02))
        if step == 33:
            events += [LossPoint(33, 2.2, "eval", 1.0), EpochSaved(1.0, 33, "checkpoint-33")]
            events.append(LogLine("epoch 1: saved checkpoint-33, train loss 2.4100"))
    events += [
        Progress(50, 99, 1.52, 41.0),
        Metrics(50, 0.214, 37.4, 4862.0, 1.49e-4, 0.731, 3_221_225_472, 4_294_967_296, 87.0),
    ]
    return events


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_view(app: FtuiApp, snap_compare: Any, size: tuple[int, int]) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        assert isinstance(pilot.app, FtuiApp)
        state = RunState(1, "new run")
        for event in run_events():
            state.apply(event)  # type: ignore[arg-type]
        pilot.app.run_state = state
        pilot.app.show_run(state)
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_no_color(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, snap_compare: Any) -> None:
    make_runs(tmp_path / "runs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NO_COLOR", "1")
    app = FtuiApp(Path("runs"), poll_interval=0)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=steps())
