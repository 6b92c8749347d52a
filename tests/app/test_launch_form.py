"""The train form's launch fields: a 2-process run (torchrun, gloo on the CPU) started from
the app ends as one completed version, followed live in the run view."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from app_helpers import open_browser, settle, text
from textual.widgets import Input

from ftui.app.screens.train_form import TrainFormScreen

RUN_TIMEOUT_S = 240


async def test_two_processes_from_the_form(
    runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps({"text": f"Question {i}? Answer {i}."}) + "\n"
                            for i in range(32)))  # fmt: skip
    before = set(runs.glob("metadata_*.json"))
    async with open_browser(runs, size=(100, 40)) as (app, pilot):
        await pilot.press("t")
        await settle(pilot)
        assert isinstance(app.screen, TrainFormScreen)
        for name in ("nproc_per_node", "nnodes", "rdzv_endpoint", "accelerate_config"):
            assert app.screen.query_one(f"#field-{name}", Input)  # the same fields as the CLI
        values = {"data": str(data), "eval_data": "", "epochs": "1", "batch_size": "4",
                  "max_length": "32", "nproc_per_node": "2"}  # fmt: skip
        for name, value in values.items():
            app.screen.query_one(f"#field-{name}", Input).value = value
        await pilot.press("ctrl+s")
        new: list[Path] = []
        for _ in range(RUN_TIMEOUT_S * 10):
            await pilot.pause(0.1)
            new = sorted(set(runs.glob("metadata_*.json")) - before)
            if new and json.loads(new[0].read_text()).get("status") != "running":
                break
        await settle(pilot)
        assert len(new) == 1
        meta = json.loads(new[0].read_text())
        assert meta["status"] == "completed", meta.get("error")
        assert (meta["spec"]["world_size"], meta["spec"]["global_batch"]) == (2, 8)
        await pilot.pause(0.5)
        screen = text(app)
        assert "completed" in screen and "step 4/4" in screen  # 32 / (4 x 2 ranks)
        assert "samples/s" in screen
