"""`make run` opens a git-ignored copy of the samples, never the tracked sample_runs/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_seeds_and_opens_an_ignored_copy(tmp_path: Path) -> None:
    """Dry run (`make -n`) with the set-up stamp present: the commands it would run."""
    commands = subprocess.run(
        ["make", "-n", "-o", ".venv/.ftui-installed", "run"],
        cwd=REPO, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert 'cp -R sample_runs "model_versions"' in commands
    assert '/ftui "model_versions"' in commands
    assert "ftui sample_runs" not in commands
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "model_versions/v_x/adapter_model.safetensors"], cwd=REPO
    )
    assert ignored.returncode == 0  # git status stays clean whatever the app does there
