"""The reduced app pass of `ftui --check` (one screen per way of being drawn, plus every
odd or damaged version) finds what the full pass (every version's screen) finds."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from synth import write_many, write_version

from ftui.app.check_plan import versions_to_draw
from ftui.app.headless import run_headless_check
from ftui.store.check import check_root

REPO = Path(__file__).resolve().parents[2]
DAMAGED = REPO / "tests" / "fixtures" / "damaged_runs"
sys.path.insert(0, str(REPO / "tests" / "hostile"))

from make_hostile import CASES, huge_notes, long_chain  # noqa: E402

# The hostile cases at a size a full pass (0.1 s a version) can visit in a test.
SMALLER: dict[str, Callable[[Path], Path]] = {
    "long_chain": lambda base: long_chain(base, length=30),
    "huge_notes": lambda base: huge_notes(base, megabytes=2),
}


@pytest.mark.parametrize("case", ["damaged_runs", *CASES])
def test_reduced_pass_finds_what_the_full_pass_finds(case: str, tmp_path: Path) -> None:
    build = SMALLER.get(case) or CASES.get(case)
    root = build(tmp_path / case) if build else DAMAGED
    full = run_headless_check(root, every_version=True)
    assert run_headless_check(root) == full


def alike_and_odd(root: Path) -> None:
    """30 versions drawn alike, then a retrain of one, a one-point history, odd notes."""
    write_many(root, 30)
    write_version(root, "20260201_000000", timestamp=datetime(2026, 2, 1), extra_metadata={
        "schema_version": 1, "status": "completed",
        "parent": {"version_id": "20250101_000500", "mode": "fresh"},
    })  # fmt: skip
    write_version(root, "20260202_000000", history_entries=1, epochs=1,
                  timestamp=datetime(2026, 2, 2))  # fmt: skip
    write_version(root, "20260203_000000", timestamp=datetime(2026, 2, 3),
                  extra_metadata={"notes": "[bold]not markup[/bold]"})  # fmt: skip


def test_alike_versions_are_drawn_once_odd_ones_each(tmp_path: Path) -> None:
    alike_and_odd(tmp_path)
    drawn = versions_to_draw(check_root(tmp_path).versions)
    # one of the 30 alike, the parent (it has a child now), the retrain, the one-point
    # history, the notes with brackets
    assert len(drawn) == 5, drawn
    assert {"20260201_000000", "20260202_000000", "20260203_000000"} <= set(drawn)
    assert "20250101_000500" in drawn


def _fails_on(condition: Callable[[object], bool]) -> Callable[..., object]:
    from ftui.app.widgets import details

    original = details.summary_rows

    def summary_rows(version, *args, **kwargs):  # type: ignore[no-untyped-def]
        if condition(version):
            raise RuntimeError("a screen that only this kind of version breaks")
        return original(version, *args, **kwargs)

    return summary_rows


@pytest.mark.parametrize(
    "breaks_on",
    [
        pytest.param(lambda v: v.parent is not None, id="retrained version"),
        pytest.param(lambda v: v.notes.startswith("["), id="notes with brackets"),
        pytest.param(lambda v: v.num_epochs == 1, id="one-epoch version"),
    ],
)
def test_a_bug_one_kind_of_version_triggers_is_caught_by_both_passes(
    breaks_on: Callable[[object], bool], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alike_and_odd(tmp_path)
    from ftui.app.widgets import details

    monkeypatch.setattr(details, "summary_rows", _fails_on(breaks_on))
    full = run_headless_check(tmp_path, every_version=True)
    assert full and "only this kind of version breaks" in full[0]
    assert run_headless_check(tmp_path) == full
