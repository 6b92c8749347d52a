"""The headless app pass of `ftui --check`, and the app's import boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from synth import write_version

from ftui.app.headless import run_headless_check

REPO = Path(__file__).resolve().parents[2]
HF_STACK = ("torch", "transformers", "peft", "trl", "datasets")


def test_headless_pass_over_fixture_is_clean(runs: Path) -> None:
    assert run_headless_check(runs) == []


def test_headless_pass_over_damaged_folder(tmp_path: Path) -> None:
    # damaged versions are the store's report; the app itself must still work on them
    assert run_headless_check(REPO / "tests" / "fixtures" / "damaged_runs") == []


def test_headless_pass_reports_unusable_root(tmp_path: Path) -> None:
    problems = run_headless_check(tmp_path / "missing")
    assert len(problems) == 1 and "no such folder" in problems[0]


def test_hostile_metadata_never_breaks_the_app(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    hostile = {
        "model_name": "[/]",
        "notes": "[bold unclosed [link=x]",
        "tags": ["[/bold]", "\x1b[2J"],
        "error": "\x1b]0;title\x07[red]",
        "training_args": {"[b]": "[/b]"},
    }
    write_version(root, "v_20260101_000000", seed=1, extra_metadata=hostile)
    write_version(root, "v_20260102_000000", seed=2, base_model="\x1b[31m[i]")
    assert run_headless_check(root) == []


def test_check_command_runs_the_app_pass_without_the_hf_stack(runs: Path) -> None:
    code = (
        "import sys, pathlib\n"
        "from ftui.app.headless import run_headless_check\n"
        f"problems = run_headless_check(pathlib.Path({str(runs)!r}))\n"
        f"print(problems, sorted(m for m in {HF_STACK!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] []"


def test_check_cli_on_sample_runs_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ftui.cli", "--check", "sample_runs"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_run_state_follows_an_event_log(tmp_path: Path) -> None:
    import threading

    from ftui.app.run_state import RunState, follow_events
    from ftui.train.events import Finished, LogLine, event_to_json

    log = tmp_path / "events.jsonl"
    log.write_text(
        event_to_json(LogLine("a"))
        + "\n"
        + json.dumps({"kind": "junk"})
        + "\n"
        + event_to_json(Finished("v_1"))
        + "\n"
        + '{"kind": "log", "te'
    )
    state = RunState(1, "x", following=True)
    for events in follow_events(tmp_path, threading.Event()):
        for event in events:
            state.apply(event)
    assert state.status == "completed" and state.log == ["a"]
