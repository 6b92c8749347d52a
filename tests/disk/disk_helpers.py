"""Helpers for the disk tests (sizes, pruning, aliases, export)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ftui.store.naming import metadata_file as meta
from ftui.store.naming import version_folder as folder

__all__ = ["A", "B", "C", "REPO", "SAMPLES", "STATE_FILES", "add_state", "du_sb", "folder",
           "ftui", "meta"]  # fmt: skip

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "sample_runs"
STATE_FILES = {"optimizer.pt": 3000, "scheduler.pt": 1000, "rng_state.pth": 1500}
# the three sample versions, oldest first (A and B have 3 checkpoints, C has 2)
A, B, C = sorted(name.removeprefix("metadata_").removesuffix(".json")
                 for name in os.listdir(SAMPLES) if name.startswith("metadata_"))  # fmt: skip


def add_state(root: Path) -> None:
    """Give every checkpoint under `root` the resume state the Trainer saves beside it."""
    for checkpoint in root.glob("*/checkpoint-*"):
        for name, size in STATE_FILES.items():
            (checkpoint / name).write_bytes(os.urandom(size))


def du_sb(path: Path) -> int:
    """What `du -sb` says (the oracle for sizes)."""
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def ftui(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `ftui` command line in a child process."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "ftui.cli", *args],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=120,
    )  # fmt: skip
