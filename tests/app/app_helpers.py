"""Helpers for the app tests: a deterministic folder of versions built per test.

The folder is written by `tests/support/synth.py` with fixed seeds and timestamps (not a
copy of `sample_runs/`, which the training engine regenerates), so screens and snapshots
stay the same. It has lineage, per-epoch checkpoints, a failed run, an interrupted run,
a plain Trainer folder, and untrusted text (markup and escape sequences) in metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from synth import write_version
from textual.pilot import Pilot

from ftui.app.main import FtuiApp
from ftui.app.screens.browser import BrowserScreen
from ftui.app.textdump import screen_text
from ftui.app.textual_private import notification_messages
from ftui.store.naming import folder_name

# Version ids in the tutorial's naming: folder `v_<id>/`, metadata `metadata_<id>.json`.
V1, V2, V3, V4 = "20260301_090000", "20260302_090000", "20260303_090000", "20260304_090000"
TRAINER = "old-trainer-run"
NASTY_NOTES = "[bold]not bold[/] [link=http://x]link[/link] \x1b[31mred?"


def _ftui(extra: dict[str, object]) -> dict[str, object]:
    return {"schema_version": 1, "status": "completed", **extra}


def add_checkpoints(folder: Path, steps: list[int]) -> list[dict[str, object]]:
    """Per-epoch checkpoints: copies of the adapter plus a truncated trainer_state."""
    state = json.loads((folder / "trainer_state.json").read_text())
    epochs = []
    for epoch, step in enumerate(steps, start=1):
        ckpt = folder / f"checkpoint-{step}"
        ckpt.mkdir()
        for name in ("adapter_model.safetensors", "adapter_config.json"):
            shutil.copy(folder / name, ckpt / name)
        history = [e for e in state["log_history"] if e["step"] <= step]
        (ckpt / "trainer_state.json").write_text(json.dumps({"log_history": history}))
        evals = [e["eval_loss"] for e in history if "eval_loss" in e]
        trains = [e["loss"] for e in history if "loss" in e]
        epochs.append(
            {
                "epoch": epoch,
                "step": step,
                "checkpoint": ckpt.name,
                "train_loss": trains[-1],
                "eval_loss": evals[-1] if evals else None,
            }
        )
    return epochs


def make_runs(root: Path) -> Path:
    """Write the fixture versions under `root` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    write_version(
        root,
        V1,
        r=4,
        alpha=8,
        seed=1,
        epochs=3,
        history_entries=30,
        timestamp=datetime(2026, 3, 1, 9, 0),
        extra_metadata=_ftui({"tags": ["baseline"], "notes": "first try"}),
    )
    write_version(
        root,
        V2,
        r=8,
        alpha=16,
        seed=2,
        epochs=3,
        history_entries=30,
        timestamp=datetime(2026, 3, 2, 9, 0),
        extra_metadata=_ftui(
            {
                "parent": {"version_id": V1, "checkpoint": None, "mode": "fresh"},
                "tags": ["best"],
                "notes": NASTY_NOTES,
            }
        ),
    )
    epochs = add_checkpoints(root / folder_name(V2), [10, 20, 30])
    meta_path = root / f"metadata_{V2}.json"
    meta = json.loads(meta_path.read_text())
    meta["epochs"] = epochs
    meta_path.write_text(json.dumps(meta, indent=2))
    write_version(
        root,
        V3,
        r=16,
        alpha=32,
        seed=3,
        epochs=1,
        history_entries=10,
        base_model="ftui:tiny-gpt2",
        timestamp=datetime(2026, 3, 3, 9, 0),
        extra_metadata=_ftui({"status": "failed", "error": "CUDA out of memory [red]boom[/red]"}),
    )
    write_version(
        root,
        V4,
        r=8,
        alpha=16,
        seed=4,
        epochs=1,
        history_entries=10,
        timestamp=datetime(2026, 3, 4, 9, 0),
        extra_metadata=_ftui(
            {
                "status": "running",
                "run": {"pid": 1, "host": "elsewhere", "heartbeat_at": "2026-03-04T09:00:00"},
            }
        ),
    )
    written = write_version(root, TRAINER, r=8, alpha=16, seed=5, epochs=2, history_entries=20)
    (root / f"metadata_{TRAINER}.json").unlink()  # a plain Trainer folder: no metadata
    trainer = written.rename(root / TRAINER)
    stamp = datetime(2026, 2, 1, 12, 0).timestamp()  # its time is its folder's mtime: pin it
    os.utime(trainer, (stamp, stamp))
    return root


def small_data(folder: Path, count: int = 16) -> Path:
    """A small .jsonl of training examples in `folder` (4 steps an epoch at batch 4)."""
    path = folder / "small.jsonl"
    lines = [
        json.dumps({"text": f"Question {i}? Answer number {i} is short."}) for i in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def settle(pilot: Pilot[object], delay: float = 0.05) -> None:
    """Let workers finish and their messages land."""
    app = pilot.app
    for _ in range(3):
        for _ in range(2000):  # at most ~20 s
            if not any(w.is_running for w in app.workers):
                break
            await pilot.pause(0.01)
        await pilot.pause(delay)


async def until(
    pilot: Pilot[object], condition: Callable[[], object], timeout: float = 20.0
) -> None:
    """Let the app run until `condition()` holds (a loaded machine may take a while to
    start a worker, where `settle` sees none running yet); fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {timeout} s"
        await pilot.pause(0.02)


def text(app: FtuiApp) -> str:
    return screen_text(app)


def browser_of(app: FtuiApp) -> BrowserScreen:
    return app.browser


Settle = Callable[[Pilot[object]], Awaitable[None]]


def notifications(app: FtuiApp) -> list[str]:
    """Messages of the notifications currently shown (toasts wrap, so read them here)."""
    return notification_messages(app)


@asynccontextmanager
async def open_browser(
    root: Path,
    *,
    select: tuple[str, str | None] | None = None,
    size: tuple[int, int] = (100, 30),
    poll_interval: float = 0,
    in_process: bool = False,
) -> AsyncIterator[tuple[FtuiApp, Pilot[object]]]:
    """The app on `root` under Pilot, scanned and settled (optionally with a row
    selected): the preamble every browser test shares.

        async with open_browser(runs, select=(V2, None), size=(120, 40)) as (app, pilot):
    """
    app = FtuiApp(root, poll_interval=poll_interval, in_process=in_process)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        if select is not None:
            assert app.browser.version_tree.select_key(select), select
            await settle(pilot)
        yield app, pilot
