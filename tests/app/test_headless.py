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


def test_a_resumed_runs_log_is_followed_past_its_earlier_ending(tmp_path: Path) -> None:
    """A run cancelled and resumed in place appends to the same events.jsonl: the first
    segment's ending is history (a log line), only the last ending ends the follow; an
    ending at a read boundary is held until what follows it is known."""
    import threading

    from ftui.app import run_state
    from ftui.app.run_state import RunState, follow_events
    from ftui.train.events import Cancelled, Finished, LogLine, Progress, Started, event_to_json

    def write(*events: object) -> None:
        text = "".join(event_to_json(e) + "\n" for e in events)  # type: ignore[arg-type]
        (tmp_path / "events.jsonl").write_text(text)

    first = [Started("v_1", str(tmp_path)), Progress(1, 8, 0.5, None), Cancelled("v_1", 1)]
    resumed = [LogLine("resume: continuing from checkpoint-1"), Started("v_1", str(tmp_path))]
    write(*first, *resumed, Progress(8, 8, 2.0, None), Finished("v_1"))
    state = RunState(1, "x", following=True)
    for events in follow_events(tmp_path, threading.Event()):
        for event in events:
            state.apply(event)
    assert state.status == "completed" and state.step == 8
    assert "cancelled (later resumed)" in state.log

    # the same log read a few bytes at a time: an ending that ends a read is held
    size = len(event_to_json(first[0])) + 1
    original = run_state.MAX_READ_PER_POLL
    run_state.MAX_READ_PER_POLL = size
    try:
        seen: list[object] = []
        for events in follow_events(tmp_path, threading.Event()):
            seen.extend(events)
        assert [type(e).__name__ for e in seen].count("Finished") == 1
        assert not any(isinstance(e, Cancelled) for e in seen) and isinstance(seen[-1], Finished)
        # a log that ends with an ending (a finished run, no resume): that ends the follow
        write(*first)
        seen = [e for events in follow_events(tmp_path, threading.Event()) for e in events]
        assert isinstance(seen[-1], Cancelled)
    finally:
        run_state.MAX_READ_PER_POLL = original


def test_a_resumed_run_plots_each_step_once() -> None:
    """Killed at step 13 and resumed from checkpoint-8: the steps after 8 are redone, so
    the plot keeps the redone points, not both (a resumed run's log holds both)."""
    from ftui.app.run_state import RunState
    from ftui.train.events import EpochSaved, LossPoint

    state = RunState(1, "x", following=True)
    first = [LossPoint(step, 3.0 - step / 10) for step in range(1, 14)]
    first.insert(8, EpochSaved(1.0, 8, "checkpoint-8"))
    first.insert(9, LossPoint(8, 2.5, "eval", 1.0))
    redone = [LossPoint(step, 2.0 - step / 100) for step in range(9, 17)]
    redone += [LossPoint(16, 1.9, "eval", 2.0), EpochSaved(2.0, 16, "checkpoint-16")]
    for event in first + redone:
        state.apply(event)
    train = [(step, loss) for split, step, loss in state.losses if split == "train"]
    assert [step for step, _ in train] == list(range(1, 17))
    assert dict(train)[12] == 2.0 - 12 / 100  # the redone value, not the first one
    assert [step for split, step, _ in state.losses if split == "eval"] == [8, 16]
    assert state.epoch_steps == [8, 16]
    state.apply(EpochSaved(1.0, 8, "checkpoint-8"))  # resumed once more, from 8
    assert state.epoch_steps == [8]
