"""Fixtures for sizes, pruning, aliases and export: copies of real versions.

`sample_runs/` holds versions the engine wrote (their checkpoints without optimizer
state, to keep the repository small); `with_state` adds state files of the names and
sizes the Trainer writes (never read by ftui, so their bytes do not matter).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

# --import-mode=importlib leaves sys.path alone: make disk_helpers importable.
sys.path.insert(0, str(Path(__file__).parent))

from disk_helpers import SAMPLES, add_state  # noqa: E402


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """A fresh copy of sample_runs/ (three completed versions, 2-3 checkpoints each)."""
    root = tmp_path / "model_versions"
    shutil.copytree(SAMPLES, root)
    return root


@pytest.fixture
def with_state(samples: Path) -> Path:
    add_state(samples)
    return samples
