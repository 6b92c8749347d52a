"""Fixtures for the app tests (helpers live in app_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# pytest runs with --import-mode=importlib, which leaves sys.path alone: make the
# helpers module beside this file importable by the test modules.
sys.path.insert(0, str(Path(__file__).parent))

from app_helpers import make_runs  # noqa: E402


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A fresh copy of the deterministic fixture versions."""
    return make_runs(tmp_path / "runs")
