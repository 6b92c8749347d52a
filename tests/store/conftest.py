"""Fixtures for store tests: small, real version folders written in tmp_path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from ftui.testing.synth import write_version


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with two healthy tutorial-layout versions (r=4 and r=8)."""
    base = tmp_path / "model_versions"
    base.mkdir()
    write_version(base, "v_20260101_100000", r=4, alpha=8, layers=2, history_entries=12,
                  seed=1, timestamp=datetime(2026, 1, 1, 10))  # fmt: skip
    write_version(base, "v_20260102_100000", r=8, alpha=16, layers=2, history_entries=12,
                  seed=2, timestamp=datetime(2026, 1, 2, 10))  # fmt: skip
    return base
