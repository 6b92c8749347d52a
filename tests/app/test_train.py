"""Pilot tests of training from the app, on the built-in tiny offline model (CPU, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

from app_helpers import V3, notifications, open_browser, settle, small_data, text
from textual.widgets import Input

from ftui.app.main import FtuiApp
from ftui.app.screens.browser import BrowserScreen
from ftui.app.screens.confirm import StrictConfirmScreen
from ftui.app.screens.run import RunScreen
from ftui.app.screens.train_form import TrainFormScreen
from ftui.app.widgets.loss_plot import LossPlot
from ftui.store import Status
from ftui.train.events import (
    EVENTS_FILE,
    EpochSaved,
    Finished,
    LogLine,
    LossPoint,
    Metrics,
    Progress,
    Started,
    event_to_json,
)

RUN_TIMEOUT_S = 120


def metadata(root: Path, version_id: str) -> dict[str, object]:
    return json.loads((root / f"metadata_{version_id}.json").read_text())


async def wait_run(app: FtuiApp, pilot: object, done: bool = True) -> None:
    """Until the current run has ended (or, with done=False, has made progress)."""
    for _ in range(RUN_TIMEOUT_S * 20):
        state = app.run_state
        if state is not None and (not state.active if done else state.active and state.step > 0):
            break
        await pilot.pause(0.05)  # type: ignore[attr-defined]
    if done:  # (settling waits for every worker, the training one included)
        await settle(pilot)  # type: ignore[arg-type]


async def settle_ui(pilot: object) -> None:
    """A few frames (settle() would wait for the training worker to end)."""
    for _ in range(5):
        await pilot.pause(0.02)  # type: ignore[attr-defined]


async def fill(pilot: object, app: FtuiApp, values: dict[str, str]) -> None:
    for name, value in values.items():
        app.screen.query_one(f"#field-{name}", Input).value = value
    await pilot.pause()  # type: ignore[attr-defined]


async def test_new_run_from_form(runs: Path) -> None:
    data = small_data(runs.parent)
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainFormScreen)
        assert app.screen.query_one("#field-base_model", Input).value == "ftui:tiny-gpt2"
        await fill(pilot, app, {"data": str(data), "epochs": "1", "batch_size": "4"})
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, RunScreen)
        await wait_run(app, pilot)
        state = app.run_state
        assert state is not None and state.status == "completed", state
        version_id = state.version_id
        assert version_id is not None
        # what landed on disk
        record = metadata(runs, version_id)
        assert record["status"] == "completed"
        assert (runs / f"v_{version_id}" / "adapter_model.safetensors").is_file()
        assert (runs / f"v_{version_id}" / "checkpoint-4").is_dir()
        # what the run view showed: log, progress, plot
        screen = text(app)
        assert "completed" in screen and "step 4/4" in screen
        assert "samples/s" in screen and "grad norm" in screen  # the metrics panel
        assert "GPU" not in screen  # a CPU run: no GPU rows
        plot = app.screen.query_one(LossPlot)
        assert plot.point_count >= 2 and plot.epoch_steps == [4]
        # the tree selects the new version
        assert app.browser.version_tree.selection is not None
        assert app.browser.version_tree.selection.key == (version_id, None)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)
        assert version_id in text(app)


async def test_form_rejects_bad_settings(runs: Path) -> None:
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        await pilot.press("t")
        await settle(pilot)
        await fill(pilot, app, {"r": "zero", "data": str(runs / "nope.jsonl")})
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, TrainFormScreen)
        assert "r: expected an integer" in text(app)
        await pilot.press("escape")
        assert isinstance(app.screen, BrowserScreen)
        assert app.run_state is None


async def test_retrain_one_key_and_cancel(runs: Path) -> None:
    """`r` on a version retrains it with its settings; x cancels cooperatively, after asking."""
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        app.browser.version_tree.select_key((V3, None))  # r=16 on ftui:tiny-gpt2, 1 epoch
        await pilot.press("r")
        await wait_run(app, pilot)
        state = app.run_state
        assert state is not None and state.status == "completed", state
        child = state.version_id
        assert child is not None
        record = metadata(runs, child)
        assert record["parent"] == {"version_id": V3, "checkpoint": None, "mode": "fresh"}
        assert record["lora_config"]["r"] == 16  # type: ignore[index]
        await pilot.press("escape")
        await settle(pilot)
        # now a longer run of the same, cancelled once it makes progress
        app.browser.version_tree.select_key((child, None))
        await pilot.press("R")
        await settle(pilot)
        await fill(pilot, app, {"epochs": "50"})
        await pilot.press("ctrl+s")
        await wait_run(app, pilot, done=False)
        # escape only goes back to the browser: the run goes on
        await pilot.press("escape")
        await settle_ui(pilot)
        assert isinstance(app.screen, BrowserScreen)
        assert app.run_state is not None and app.run_state.active
        # the running child is in the tree, its parent opened, and selected
        tree = app.browser.version_tree
        new = app.run_state.version_id
        for _ in range(100):
            if (new, None) in tree.nodes_by_key:
                break
            await pilot.pause(0.05)
        node = tree.nodes_by_key[(new, None)]
        assert node.parent is not None and node.parent.is_expanded
        assert app.browser.state.selected == (new, None)
        # q during the run asks (y/n); escape cannot answer, n keeps it running
        await pilot.press("q")
        await settle_ui(pilot)
        assert isinstance(app.screen, StrictConfirmScreen) and app.is_running
        await pilot.press("escape", "enter")
        await settle_ui(pilot)
        assert isinstance(app.screen, StrictConfirmScreen)
        await pilot.press("n")
        await settle_ui(pilot)
        assert app.is_running and app.run_state.active
        # x in the run view asks before cancelling; escape cannot answer
        await pilot.press("w")
        await settle_ui(pilot)
        assert isinstance(app.screen, RunScreen)
        assert "Cancel run" in text(app)
        await pilot.press("x")
        await settle_ui(pilot)
        assert isinstance(app.screen, StrictConfirmScreen)
        await pilot.press("escape")
        await settle_ui(pilot)
        assert isinstance(app.screen, StrictConfirmScreen) and app.run_state.active
        await pilot.press("y")
        await wait_run(app, pilot)
        assert "Cancel run" not in text(app)  # the footer follows the header
        state = app.run_state
        assert state is not None and state.status == "cancelled", state
        assert state.version_id is not None
        assert metadata(runs, state.version_id)["status"] == "cancelled"
        assert any("cancelled" in n for n in notifications(app))


async def test_retrain_with_form_shows_differences(runs: Path) -> None:
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        app.browser.version_tree.select_key((V3, None))
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, TrainFormScreen)
        assert "nothing yet (same settings)" in text(app)
        assert app.screen.query_one("#field-r", Input).value == "16"
        await fill(pilot, app, {"r": "4", "alpha": "8", "data": str(small_data(runs.parent))})
        screen = text(app)
        assert "r 16 → 4" in screen and "alpha 32 → 8" in screen
        assert app.screen.query_one("#row-r").has_class("changed")
        assert not app.screen.query_one("#row-seed").has_class("changed")
        await pilot.press("ctrl+s")
        await wait_run(app, pilot)
        state = app.run_state
        assert state is not None and state.status == "completed", state
        assert state.version_id is not None
        record = metadata(runs, state.version_id)
        assert record["lora_config"]["r"] == 4  # type: ignore[index]
        assert record["parent"]["version_id"] == V3  # type: ignore[index]


async def test_failure_is_shown_not_crashed(runs: Path) -> None:
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        await pilot.press("t")
        await settle(pilot)
        # a model folder that passes the form's checks but cannot be loaded: the engine fails
        model = runs.parent / "broken-model"
        model.mkdir()
        (model / "config.json").write_text('{"model_type": "no-such-architecture"}')
        await fill(pilot, app, {"base_model": str(model), "epochs": "1"})
        await pilot.press("ctrl+s")
        await wait_run(app, pilot)
        state = app.run_state
        assert state is not None and state.status == "failed"
        assert state.error
        assert "failed" in text(app)
        assert any("failed" in n for n in notifications(app))
        assert app.is_running


async def test_follow_a_run_started_elsewhere(runs: Path) -> None:
    """A running version's events.jsonl is followed live, as if we ran it."""
    version_id = "20260309_090000"
    folder = runs / f"v_{version_id}"
    folder.mkdir()
    (runs / f"metadata_{version_id}.json").write_text(json.dumps({
        "schema_version": 1, "version_id": version_id, "status": "running",
        "timestamp": "2026-03-09T09:00:00", "model_name": "ftui:tiny-gpt2",
        "run": {"pid": 1, "host": "another-box", "heartbeat_at": "2999-01-01T00:00:00"},
    }))  # fmt: skip
    log = folder / EVENTS_FILE

    def append(*events: object) -> None:
        with open(log, "a") as handle:
            for event in events:
                handle.write(event_to_json(event) + "\n")  # type: ignore[arg-type]

    append(Started(version_id, str(folder)), LogLine("hello from [bold]tmux[/bold]"))
    async with open_browser(runs, size=(100, 40), in_process=True) as (app, pilot):
        app.browser.version_tree.select_key((version_id, None))
        await pilot.press("w")
        await pilot.pause(0.5)
        assert isinstance(app.screen, RunScreen)
        assert "hello from [bold]tmux[/bold]" in text(app)
        append(Progress(1, 4, 0.25, 3.0), LossPoint(1, 2.5), LossPoint(2, 2.0))
        await pilot.pause(0.6)
        assert "step 1/4" in text(app)
        assert app.screen.query_one(LossPlot).point_count == 2
        append(Metrics(1, 0.5, 16.0, gpu_mem_allocated=3 << 30, gpu_util=91.0))
        await pilot.pause(0.6)
        assert "GPU peak alloc" in text(app) and "91%" in text(app)
        append(EpochSaved(1.0, 4, "checkpoint-4"), Finished(version_id, {}))
        await pilot.pause(0.6)
        await settle(pilot)
        assert app.run_state is not None and app.run_state.status == "completed"
        assert "completed" in text(app)


async def test_run_log_lines_wrap_at_80_columns(runs: Path) -> None:
    """A long log line (the engine's summary) is read whole, not cut at the edge."""
    from ftui.app.run_state import RunState

    async with open_browser(runs, size=(80, 24)) as (app, pilot):
        state = RunState(1, "a run")
        state.apply(Started("20260309_090000", str(runs)))
        long = "training 200 examples (20 eval) for 1 epoch on cpu (fp32): " + "x" * 60 + " END"
        state.apply(LogLine(long))
        state.finish(Status.COMPLETED, "20260309_090000")
        app.run_state = state
        app.show_run(state)
        await settle(pilot)
        screen = text(app)
        assert "END" in screen and "x" * 20 in screen
        assert "Cancel run" not in screen  # finished: the footer offers no cancel
