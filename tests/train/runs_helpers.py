"""Real `ftui` child processes for the run-control tests: start, wait for a line, read."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def ftui(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ftui", *args],
        capture_output=True, text=True, timeout=timeout, check=False, env=ENV,
    )  # fmt: skip


def train_args(data: tuple[Path, Path], *args: str) -> list[str]:
    """`ftui train` on the small data (50 epochs unless `args` say otherwise)."""
    train, evals = data
    return ["train", "--data", str(train), "--eval-data", str(evals), "--epochs", "50",
            "--max-length", "64", "--r", "4", "--lr", "1e-3", *args]  # fmt: skip


def start_train(root: Path, data: tuple[Path, Path], *args: str) -> subprocess.Popen[str]:
    """A foreground `ftui train` child process."""
    command = [sys.executable, "-m", "ftui", *train_args(data, "--root", str(root), *args)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def wait_for_line(process: subprocess.Popen[str], text: str, timeout: float = 180) -> list[str]:
    """Read the child's stderr until a line containing `text`; the lines read."""
    assert process.stderr is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        seen.append(line)
        if text in line:
            return seen
        if time.monotonic() > deadline:
            break
    raise AssertionError(f"{text!r} never came; stderr:\n{''.join(seen)[-3000:]}")


def version_of(lines: list[str]) -> str:
    """The id from the `version <id>: <path>` line a run prints when it starts."""
    for line in lines:
        if line.startswith("version "):
            return line.split()[1].rstrip(":")
    raise AssertionError("no version line")


def metadata(root: Path, version_id: str) -> dict[str, Any]:
    return json.loads((root / f"metadata_{version_id}.json").read_text())


def wait_until(predicate: Any, timeout: float = 120, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return bool(predicate())


def kill_leftovers(root: Path) -> None:
    """Kill whatever run under `root` still lives (a failed test must not leave any)."""
    import signal

    from ftui.store.liveness import Liveness, check_process

    for meta in root.rglob("metadata_*.json"):
        try:
            run = json.loads(meta.read_text()).get("run") or {}
        except (OSError, ValueError):
            continue
        if check_process(run) is Liveness.ALIVE and run.get("start_ticks") is not None:
            with contextlib.suppress(OSError):
                os.kill(int(run["pid"]), signal.SIGKILL)
