"""BrowserState on its own: no Textual, plain versions from the fixture folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import TRAINER, V1, V2, V3, V4

from ftui.app.browser_state import BrowserState
from ftui.store import scan


@pytest.fixture
def state(runs: Path) -> BrowserState:
    return BrowserState(runs).with_versions(scan(runs))


def ids(versions: list) -> list[str]:
    return [v.id for v in versions]


def test_changes_make_new_states(state: BrowserState) -> None:
    sorted_ = state.next_sort()
    assert sorted_ is not state and state.sort_key == "time" and sorted_.sort_key == "eval_loss"
    assert state.reversed_sort().reverse and not state.reverse


def test_nested_and_flat_forests(state: BrowserState) -> None:
    roots, children = state.forest()
    assert ids(roots) == [V4, V3, V1, TRAINER]
    assert ids(children[V1]) == [V2]
    roots, children = state.toggled_flat().forest()
    assert ids(roots) == [V4, V3, V2, V1, TRAINER] and children == {}
    assert ids(state.toggled_flat().reversed_sort().forest()[0])[0] == TRAINER


def test_filter_and_its_errors(state: BrowserState) -> None:
    best = state.with_filter("tag:best")
    assert ids(best.shown) == [V2] and best.filter_error is None
    broken = best.with_filter("eval_loss<oops")
    assert broken.filter_error and broken.query is best.query  # the last good filter stays
    none = state.with_filter("eval_loss<0.0001")
    assert none.shown == [] and none.empty_message() == "no versions match the filter"
    assert state.with_filter("  ").query is None


def test_marks_keep_two_and_drop_vanished(state: BrowserState) -> None:
    marked = state.toggled_mark((V1, None)).toggled_mark((V2, None)).toggled_mark((V3, None))
    assert marked.marked == ((V2, None), (V3, None))
    assert marked.toggled_mark((V2, None)).marked == ((V3, None),)
    rescanned = marked.with_versions([v for v in marked.versions if v.id != V3])
    assert rescanned.marked == ((V2, None),)
    assert marked.unmarked().marked == ()


def test_compare_pair_rules(state: BrowserState) -> None:
    assert state.compare_pair() == "nothing selected"
    child = state.with_selected((V2, None))
    a, b = child.compare_pair()  # type: ignore[misc]
    assert (a.key, b.key) == ((V1, None), (V2, None))  # its parent
    ckpt = state.with_selected((V2, "checkpoint-10"))
    a, b = ckpt.compare_pair()  # type: ignore[misc]
    assert (a.key, b.key) == ((V2, "checkpoint-10"), (V2, None))
    one = state.toggled_mark((V3, None)).with_selected((V4, None))
    a, b = one.compare_pair()  # type: ignore[misc]
    assert (a.key, b.key) == ((V3, None), (V4, None))
    assert isinstance(state.with_selected((V4, None)).compare_pair(), str)


def test_children_and_selection(state: BrowserState) -> None:
    assert ids(state.children_of(V1)) == [V2]
    assert state.with_selected((V2, "checkpoint-99")).selection is None
    assert state.with_selected((V1, None)).selection.version.id == V1  # type: ignore[union-attr]


def test_a_parent_recorded_in_the_other_spelling_still_nests(runs: Path) -> None:
    """`v_<stamp>` and `<stamp>` name one version: a child whose metadata records its
    parent as `v_<V1>` nests under V1, counts as its child and compares with it."""
    import json

    meta = runs / f"metadata_{V2}.json"
    record = json.loads(meta.read_text())
    record["parent"]["version_id"] = f"v_{V1}"
    meta.write_text(json.dumps(record))
    state = BrowserState(runs).with_versions(scan(runs))
    assert state.by_id[V2].parent.version_id == f"v_{V1}"  # type: ignore[union-attr]
    roots, children = state.forest()
    assert V2 not in ids(roots) and ids(children[V1]) == [V2]
    assert ids(state.children_of(V1)) == [V2]
    a, b = state.with_selected((V2, None)).compare_pair()  # type: ignore[misc]
    assert (a.key, b.key) == ((V1, None), (V2, None))
