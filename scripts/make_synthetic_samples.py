"""Write sample_runs/ from synthetic (but real-format) versions, before the engine exists."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from ftui.testing.synth import write_version

ROOT = Path(__file__).resolve().parent.parent / "sample_runs"


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    ROOT.mkdir()
    common = {"layers": 2, "history_entries": 30, "epochs": 3}
    write_version(ROOT, "v_20261120_101500", r=4, alpha=8, seed=3,
                  timestamp=datetime(2026, 11, 20, 10, 15), **common)  # fmt: skip
    write_version(ROOT, "v_20261121_093000", r=8, alpha=16, seed=5,
                  timestamp=datetime(2026, 11, 21, 9, 30), **common)  # fmt: skip
    write_version(ROOT, "v_20261122_141000", r=8, alpha=16, seed=8,
                  timestamp=datetime(2026, 11, 22, 14, 10),
                  extra_metadata={"parent": {"version_id": "v_20261121_093000",
                                             "checkpoint": None, "mode": "fresh"},
                                  "tags": ["best"], "notes": "lr 1e-4 instead of 2e-4"},
                  **common)  # fmt: skip


if __name__ == "__main__":
    main()
