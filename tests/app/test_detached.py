"""Pilot tests of the app's default mode: every run its own detached process.

Real `ftui train` children on the tiny offline model (CPU, seconds), no mocks: `x`
cancels a live run after a y/n, `C` resumes a cancelled or interrupted one in place,
a run that waits for the device reads `queued #N`, and a followed run whose process is
killed turns `interrupted` on its own, with no key pressed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_helpers import notifications, open_browser, small_data, text, until
from textual.pilot import Pilot
from textual.widgets import Input

from ftui.app.main import FtuiApp
from ftui.app.screens.browser import BrowserScreen
from ftui.app.screens.confirm import StrictConfirmScreen
from ftui.app.screens.run import RunScreen
from ftui.app.screens.train_form import TrainFormScreen
from ftui.store import Status
from ftui.store.liveness import Liveness, check_process
from ftui.store.naming import version_folder

TIMEOUT_S = 120  # a loaded machine trains slowly
EPOCHS = 40  # x 4 steps of the small data: several seconds, long enough to act on


def metadata(root: Path, version_id: str) -> dict[str, object]:
    return json.loads((root / f"metadata_{version_id}.json").read_text())


def run_of(root: Path, version_id: str) -> dict[str, object]:
    run = metadata(root, version_id).get("run")
    assert isinstance(run, dict)
    return run


@pytest.fixture(autouse=True)
def no_leftover_runs(runs: Path) -> Iterator[None]:
    """A failing test must not leave a training process behind."""
    yield
    for meta in runs.glob("metadata_*.json"):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            run = json.loads(meta.read_text()).get("run") or {}
            if check_process(run) is Liveness.ALIVE and run.get("start_ticks") is not None:
                os.kill(int(run["pid"]), signal.SIGKILL)


async def start_from_form(app: FtuiApp, pilot: Pilot[object], data: Path, epochs: int) -> None:
    """`t`, the small data, start: a detached run (the app's default)."""
    await pilot.press("t")  # (no settle(): it would wait for a followed run to end)
    await until(pilot, lambda: isinstance(app.screen, TrainFormScreen), TIMEOUT_S)
    assert isinstance(app.screen, TrainFormScreen)
    values = {"data": str(data), "epochs": str(epochs), "batch_size": "4"}
    for name, value in values.items():
        app.screen.query_one(f"#field-{name}", Input).value = value
    await pilot.pause()
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, RunScreen), TIMEOUT_S)


async def saved_a_checkpoint(app: FtuiApp, pilot: Pilot[object]) -> str:
    """Wait until the followed run has saved its first checkpoint; its version id."""
    await until(pilot, lambda: app.run_state and app.run_state.epoch_steps, TIMEOUT_S)
    state = app.run_state
    assert state is not None and state.following and state.active
    assert state.version_id is not None
    return state.version_id


async def resume_to_the_end(app: FtuiApp, pilot: Pilot[object], root: Path, vid: str) -> None:
    """`C` on `vid` in the tree: it runs again in place (same version), then completes."""
    await pilot.press("escape")
    await until(pilot, lambda: isinstance(app.screen, BrowserScreen), TIMEOUT_S)
    tree = app.browser.version_tree
    await until(pilot, lambda: tree.select_key((vid, None)), TIMEOUT_S)
    await pilot.pause(0.1)
    await pilot.press("C")
    await until(pilot, lambda: isinstance(app.screen, RunScreen), TIMEOUT_S)
    state = app.run_state
    assert state is not None and state.version_id == vid and state.following
    await until(pilot, lambda: state.step > 0, TIMEOUT_S)
    assert metadata(root, vid)["status"] in ("queued", "running")  # live again
    await until(pilot, lambda: not state.active, TIMEOUT_S)
    assert state.status == "completed", (state.status, state.error)
    assert metadata(root, vid)["status"] == "completed"
    assert (version_folder(root, vid) / f"checkpoint-{EPOCHS * 4}").is_dir()
    assert (version_folder(root, vid) / "adapter_model.safetensors").is_file()
    assert "completed" in text(app)
    events = (version_folder(root, vid) / "events.jsonl").read_text()
    assert "resum" in events  # the same version's log goes on


def status_in_tree(app: FtuiApp, version_id: str) -> Status | None:
    return next((v.status for v in app.browser.versions if v.id == version_id), None)


async def test_a_run_that_dies_unwatched_turns_interrupted_in_the_tree(runs: Path) -> None:
    """Nothing on disk changes when a process is killed: the browser's poll checks the
    processes of the versions it shows running, and rescans when one is gone."""
    import subprocess
    import sys

    from synth import write_version

    from ftui.store.liveness import identity

    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        run = {**identity(process.pid), "heartbeat_at": "2999-01-01T00:00:00"}
        vid = "20260310_090000"
        extra: dict[str, object] = {"schema_version": 1, "status": "running", "run": run}
        write_version(runs, vid, r=4, epochs=1, history_entries=10, extra_metadata=extra)
        async with open_browser(runs, size=(100, 30), poll_interval=0.2) as (app, pilot):
            assert status_in_tree(app, vid) is Status.RUNNING
            await pilot.pause(0.5)  # polls: the process lives, nothing changes
            assert status_in_tree(app, vid) is Status.RUNNING
            process.kill()
            process.wait()
            await until(pilot, lambda: status_in_tree(app, vid) is Status.INTERRUPTED, TIMEOUT_S)
    finally:
        process.kill()
        process.wait()


async def test_x_cancels_a_detached_run_and_C_resumes_it(runs: Path) -> None:
    data = small_data(runs.parent)
    async with open_browser(runs, size=(100, 40), poll_interval=0.5) as (app, pilot):
        await start_from_form(app, pilot, data, EPOCHS)
        vid = await saved_a_checkpoint(app, pilot)
        run = run_of(runs, vid)
        assert run["launch"] == "detached" and run["pid"] != os.getpid()
        await pilot.press("x")  # asks; only y answers
        await until(pilot, lambda: isinstance(app.screen, StrictConfirmScreen), TIMEOUT_S)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert isinstance(app.screen, StrictConfirmScreen) and app.run_state.active  # type: ignore[union-attr]
        await pilot.press("y")
        state = app.run_state
        assert state is not None
        await until(pilot, lambda: not state.active, TIMEOUT_S)
        assert state.status == "cancelled", (state.status, state.error)
        assert metadata(runs, vid)["status"] == "cancelled"  # on disk
        assert "cancelled" in text(app)  # and on screen
        assert any(f"{vid} stops after its current step" in n for n in notifications(app))
        pid = run_of(runs, vid)["pid"]
        await until(pilot, lambda: not os.path.exists(f"/proc/{pid}"), TIMEOUT_S)  # reaped
        steps_before = metadata(runs, vid)["performance"]["steps"]
        await resume_to_the_end(app, pilot, runs, vid)
        # the recorded throughput covers both segments: the steps redone after the
        # checkpoint it resumed from count again (they were work done)
        record = metadata(runs, vid)
        resumed_at = int(record["run"]["resumes"][-1]["checkpoint"].rsplit("-", 1)[1])
        assert record["performance"]["steps"] == steps_before + EPOCHS * 4 - resumed_at


async def test_a_killed_run_turns_interrupted_on_its_own_and_C_resumes_it(runs: Path) -> None:
    data = small_data(runs.parent)
    async with open_browser(runs, size=(100, 40), poll_interval=0.5) as (app, pilot):
        await start_from_form(app, pilot, data, EPOCHS)
        vid = await saved_a_checkpoint(app, pilot)
        os.kill(int(run_of(runs, vid)["pid"]), signal.SIGKILL)  # type: ignore[call-overload]
        state = app.run_state
        assert state is not None
        # no key pressed: the follow checks the process every couple of seconds
        await until(pilot, lambda: state.status == "interrupted", TIMEOUT_S)
        assert metadata(runs, vid)["status"] == "running"  # what the killed run left
        assert "interrupted" in text(app)
        assert any("interrupted" in n for n in notifications(app))
        await pilot.press("escape")
        tree = app.browser.version_tree
        await until(pilot, lambda: tree.select_key((vid, None)), TIMEOUT_S)
        await until(pilot, lambda: status_in_tree(app, vid) is Status.INTERRUPTED, TIMEOUT_S)
        await pilot.press("w")  # back to the run view, then resume from the tree
        await resume_to_the_end(app, pilot, runs, vid)


async def test_a_second_run_queues_and_reads_queued_in_the_tree(runs: Path) -> None:
    """Two runs on the same (default) device: the second waits, `queued #1` in the tree;
    `x` on it removes it from the queue."""
    data = small_data(runs.parent)
    async with open_browser(runs, size=(120, 40), poll_interval=0.5) as (app, pilot):
        await start_from_form(app, pilot, data, 200)
        first = await saved_a_checkpoint(app, pilot)
        await pilot.press("escape")
        await start_from_form(app, pilot, data, 1)
        state = app.run_state
        assert state is not None
        await until(pilot, lambda: state.version_id not in (None, first), TIMEOUT_S)
        second = state.version_id
        assert second is not None
        await until(pilot, lambda: "queued: position 1" in "\n".join(state.log), TIMEOUT_S)
        assert metadata(runs, second)["status"] == "queued"
        await pilot.press("escape")
        tree = app.browser.version_tree
        await until(pilot, lambda: tree.select_key((second, None)), TIMEOUT_S)
        await until(pilot, lambda: "queued #1" in text(app), TIMEOUT_S)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, StrictConfirmScreen), TIMEOUT_S)
        await pilot.press("y")
        meta = runs / f"metadata_{second}.json"
        await until(pilot, lambda: not meta.exists(), TIMEOUT_S)
        assert not version_folder(runs, second).exists()  # nothing was trained: it goes
        assert metadata(runs, first)["status"] == "running"  # the first goes on
        await until(pilot, lambda: second not in text(app), TIMEOUT_S)
        await until(pilot, lambda: tree.select_key((first, None)), TIMEOUT_S)
        await pilot.pause(0.1)
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, StrictConfirmScreen), TIMEOUT_S)
        await pilot.press("y")
        await until(pilot, lambda: metadata(runs, first)["status"] == "cancelled", TIMEOUT_S)


async def test_devices_in_the_form_reach_the_run(runs: Path) -> None:
    """The form's devices field (the CLI's --devices): checked by the same parser, refused
    in-process (CUDA_VISIBLE_DEVICES needs a process of its own), recorded in the run,
    and filled in again when the version is retrained with R."""
    data = small_data(runs.parent)
    async with open_browser(runs, size=(100, 40), poll_interval=0.5) as (app, pilot):
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, TrainFormScreen), TIMEOUT_S)
        form = app.screen
        assert isinstance(form, TrainFormScreen)
        values = {"data": str(data), "epochs": "1", "batch_size": "4", "devices": "0,x"}
        for name, value in values.items():
            form.query_one(f"#field-{name}", Input).value = value
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert app.screen is form and "expected GPU indices such as 0 or 0,1" in text(app)
        form.query_one("#field-devices", Input).value = "1, 0"
        form.in_process = True
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert app.screen is form and "needs its own process" in text(app)
        form.in_process = False
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, RunScreen), TIMEOUT_S)
        state = app.run_state
        assert state is not None
        await until(pilot, lambda: not state.active, TIMEOUT_S)
        assert state.status == "completed", (state.status, state.error)
        vid = state.version_id
        assert vid is not None
        assert run_of(runs, vid)["devices"] == [1, 0]  # as given: CUDA_VISIBLE_DEVICES=1,0
        await pilot.press("escape")
        tree = app.browser.version_tree
        await until(pilot, lambda: tree.select_key((vid, None)), TIMEOUT_S)
        await pilot.pause(0.1)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, TrainFormScreen), TIMEOUT_S)
        assert app.screen.query_one("#field-devices", Input).value == "1, 0"


async def test_the_details_show_a_runs_recorded_throughput(runs: Path) -> None:
    """What a run records at its end (`performance`: throughput and peak GPU memory) is
    one line of the details; a version without it shows no such row."""
    from app_helpers import V1, V2

    meta = runs / f"metadata_{V1}.json"
    record = json.loads(meta.read_text())
    record["performance"] = {"steps": 99, "seconds": 1.7, "step_time_s": 0.0172,
                             "samples_per_s": 462.0, "tokens_per_s": 16100.0,
                             "gpu_mem_allocated": 3 << 30, "gpu_mem_reserved": 4 << 30}  # fmt: skip
    meta.write_text(json.dumps(record))
    async with open_browser(runs, select=(V1, None), size=(120, 40)) as (app, pilot):
        await until(pilot, lambda: "throughput" in text(app), 20)
        screen = text(app)
        assert "17 ms/step · 462.0 samples/s · 16.1k tok/s" in screen  # (the line wraps)
        assert "GPU mem 3.0 GB (4.0 GB reserved)" in screen
        assert app.browser.version_tree.select_key((V2, None))
        await until(pilot, lambda: "throughput" not in text(app), 20)
