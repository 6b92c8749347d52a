"""What the browser shows, as one immutable value (no Textual here).

`BrowserState` holds the versions of the last scan, the filter, the sort order (and its
direction), flat or nested view, the marked rows and the selected row. Every change makes
a new state (`dataclasses.replace`), so the screen keeps it in one reactive attribute and
its watcher redraws exactly what differs between the old and the new value. Tested on its
own, like `run_state.py`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from ftui.store import Version
from ftui.store.lineage import parent_among
from ftui.store.query import SORT_KEYS, Query, QueryError, parse_query, sort_versions

from .selection import Key, Selection, build_forest

SORT_ORDER: tuple[str, ...] = tuple(SORT_KEYS)
NEWEST_FIRST = "time"


@dataclass(frozen=True, eq=False)
class BrowserState:
    """The browser's state; methods return a new state and never change this one."""

    root: Path
    versions: tuple[Version, ...] = ()
    scan_complete: bool = False
    scan_error: str | None = None
    query: Query | None = None
    filter_error: str | None = None  # the filter text does not parse (the last good one stays)
    sort_key: str = NEWEST_FIRST
    reverse: bool = False
    flat: bool = False  # every version at the top level, in sort order, ignoring lineage
    marked: tuple[Key, ...] = ()  # at most two: A and B of a comparison
    selected: Key | None = None
    sizes: Mapping[str, int] = field(default_factory=dict)  # version id -> bytes on disk
    disk_total: int | None = None  # the root's bytes, once measured

    # ------------------------------------------------------------ derived views

    @cached_property
    def by_id(self) -> dict[str, Version]:
        return {v.id: v for v in self.versions}

    @cached_property
    def shown(self) -> list[Version]:
        """The versions that pass the filter, in the chosen order."""
        versions: list[Version] = list(self.versions)
        if self.query is not None:
            versions = self.query.filter(versions)
        return sort_versions(versions, self.sort_key, self.reverse, sizes=self.sizes)

    def forest(self) -> tuple[list[Version], dict[str, list[Version]]]:
        """Top-level rows and the children of each id (none in the flat view)."""
        if self.flat:
            return list(self.shown), {}
        return build_forest(self.shown)

    def with_sizes(self, sizes: Mapping[str, int], total: int) -> BrowserState:
        return replace(self, sizes=dict(sizes), disk_total=total)

    @property
    def sort_label(self) -> str:
        label = SORT_KEYS.get(self.sort_key, self.sort_key)
        return f"{label} (reversed)" if self.reverse else label

    def resolve(self, key: Key | None) -> Selection | None:
        """The version or checkpoint a key names, if it is still there."""
        if key is None:
            return None
        version = self.by_id.get(key[0])
        if version is None:
            return None
        if key[1] is None:
            return Selection(version)
        checkpoint = version.checkpoint(key[1])
        return Selection(version, checkpoint) if checkpoint else None

    @property
    def selection(self) -> Selection | None:
        return self.resolve(self.selected)

    def label_of(self, key: Key) -> str:
        return key[0] if key[1] is None else f"{key[0]}/{key[1]}"

    # ------------------------------------------------------------ changes

    def with_versions(
        self, versions: list[Version], complete: bool = True, error: str | None = None
    ) -> BrowserState:
        """A new scan: marks that no longer resolve are dropped."""
        new = replace(self, versions=tuple(versions), scan_complete=complete, scan_error=error)
        marked = tuple(k for k in self.marked if new.resolve(k) is not None)
        return replace(new, marked=marked) if marked != self.marked else new

    def with_filter(self, text: str) -> BrowserState:
        """Parse and apply a filter; an invalid one keeps the last good filter and says why."""
        text = text.strip()
        if not text:
            return replace(self, query=None, filter_error=None)
        try:
            query = parse_query(text)
        except QueryError as exc:
            return replace(self, filter_error=str(exc))
        return replace(self, query=query, filter_error=None)

    def next_sort(self) -> BrowserState:
        index = SORT_ORDER.index(self.sort_key) if self.sort_key in SORT_ORDER else -1
        return replace(self, sort_key=SORT_ORDER[(index + 1) % len(SORT_ORDER)])

    def reversed_sort(self) -> BrowserState:
        return replace(self, reverse=not self.reverse)

    def toggled_flat(self) -> BrowserState:
        return replace(self, flat=not self.flat)

    def toggled_mark(self, key: Key) -> BrowserState:
        """Mark or unmark a row; a third mark pushes out the oldest (A, B = oldest, newest)."""
        if key in self.marked:
            return replace(self, marked=tuple(k for k in self.marked if k != key))
        return replace(self, marked=(*self.marked, key)[-2:])

    def unmarked(self, key: Key | None = None) -> BrowserState:
        """Without marks (or without the one mark `key`)."""
        marked = () if key is None else tuple(k for k in self.marked if k != key)
        return replace(self, marked=marked)

    def with_selected(self, key: Key | None) -> BrowserState:
        return self if key == self.selected else replace(self, selected=key)

    # ------------------------------------------------------------ questions

    def compare_pair(self) -> tuple[Selection, Selection] | str:
        """The two sides `c` compares, or why there are none.

        Two marks: those. One mark: it and the selected row. None: the selected checkpoint
        against its version, or the selected version against its parent.
        """
        selection = self.selection
        marked = [s for s in (self.resolve(k) for k in self.marked) if s is not None]
        if len(marked) == 2:
            return marked[0], marked[1]
        if len(marked) == 1 and selection is not None and selection.key != marked[0].key:
            return marked[0], selection
        if selection is None:
            return "nothing selected"
        if selection.checkpoint is not None:
            return selection, Selection(selection.version)
        parent = selection.version.parent
        parent_id = parent_among(selection.version, self.by_id)
        if parent is not None and parent_id in self.by_id:
            a = self.resolve((parent_id, parent.checkpoint)) or self.resolve((parent_id, None))
            if a is not None:
                return a, selection
        return "mark two versions with space (or select one that has a parent), then press c"

    def children_of(self, version_id: str) -> list[Version]:
        """Versions recorded as trained from `version_id` (any of its checkpoints)."""
        return [v for v in self.versions if parent_among(v, self.by_id) == version_id]

    def empty_message(self) -> str:
        """What the details pane says when no row is selected."""
        if not self.scan_complete:
            return "scanning…"
        if self.scan_error and not self.root.exists():
            return (
                f"{self.scan_error}\n\npress t to train the first version here"
                " (the folder is created), or open another folder: ftui DIR"
            )
        if self.scan_error:
            return self.scan_error
        if self.versions:
            return "no versions match the filter"
        return "no versions yet: press t to train one"
