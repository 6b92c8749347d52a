"""The main screen: the version tree beside the details of the selected row.

All that the screen shows comes from one reactive `state` (a `BrowserState`): actions
and worker results assign a new state, and `watch_state` redraws what differs between
the old and the new one (the status line is bound to it and redraws itself). Scans and
reads run in thread workers that post messages; the handlers here change state.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Input, Static, Tree

from ftui.store import Metrics, Version

from ..browser_state import BrowserState
from ..disk_actions import DISK_BINDINGS, DiskTools
from ..format import plain
from ..loading import (
    first_screenful,
    load_details,
)
from ..messages import DetailsLoaded, VersionsScanned
from ..palette import COMPONENT_CLASSES
from ..selection import Key, Selection
from ..widgets.details import DetailsPane
from ..widgets.status_line import StatusLine
from ..widgets.version_tree import VersionTree
from ..workers import WorkerFailures, start
from .browser_actions import BrowserActions
from .browser_scan import BrowserScanning

POLL_INTERVAL_S = 2.0


def rows_signature(state: BrowserState) -> tuple[object, ...]:
    """The tree's rows: which versions, nested how, in what order, with which checkpoints.
    Equal signatures mean a new state can relabel rows in place instead of rebuilding."""
    roots, children = state.forest()
    nested = tuple((pid, tuple(v.id for v in kids)) for pid, kids in children.items())
    rows = tuple((v.id, tuple(c.name for c in v.checkpoints)) for v in state.shown)
    return (tuple(v.id for v in roots), nested, rows, state.sort_key)


class BrowserScreen(WorkerFailures, BrowserActions, BrowserScanning, Screen[None]):
    """Browse, filter, sort, mark, tag, delete; start compare and training from here."""

    COMPONENT_CLASSES = COMPONENT_CLASSES  # the palette of the tree and the details
    BINDINGS = [
        Binding("question_mark,f1", "app.help", "Help"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("f", "toggle_flat", "Flat/tree", show=False),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("c", "compare", "Compare"),
        Binding("t", "train", "Train"),
        Binding("r", "retrain", "Retrain"),
        Binding("R", "retrain_form", "Retrain…", show=False),
        Binding("w", "watch_run", "Watch", show=False),
        Binding("x", "cancel_run", "Cancel run", show=False),
        Binding("C", "resume_run", "Resume run", show=False),
        Binding("e", "edit_tags", "Tags", show=False),
        Binding("n", "edit_notes", "Notes", show=False),
        Binding("d", "delete", "Delete", show=False),  # (help and ctrl+p list it)
        Binding("enter", "open", "Open", show=False),
        Binding("f5,ctrl+r", "rescan", "Rescan", show=False),
        Binding("u", "unmark", "Clear marks", show=False),
        Binding("escape", "back", "Back", show=False),
        *DISK_BINDINGS,
    ]

    state: var[BrowserState] = var(BrowserState(Path()), init=False)

    def __init__(
        self,
        root: Path,
        *,
        poll_interval: float = POLL_INTERVAL_S,
        scanned: list[Version] | None = None,
    ) -> None:
        super().__init__()
        self.root = root
        self.poll_interval = poll_interval
        # Versions read already (`--check` hands over its own scan): the first scan
        # shows them instead of reading the folder again.
        self.scanned = scanned
        self.scan_id = 0
        self.signature: int | None = None
        self.pending_select: Key | None = None
        # losses read from histories, kept across rescans (only metrics, never metadata)
        self.filled: dict[tuple[str, str, int], Metrics] = {}
        self.early_key: Key | None = None
        # Set when the screen goes (the app quits): the scan and history workers stop
        # early instead of keeping the process alive to read 10,000 folders.
        self.closing = threading.Event()
        self.disk = DiskTools(self)  # sizes, prune, aliases, export
        self.set_reactive(BrowserScreen.state, BrowserState(root))

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status-line").data_bind(BrowserScreen.state)
        yield Input(
            placeholder="filter: eval_loss<0.9 r=16 base=gpt2 tag:best, or text", id="filter"
        )
        yield Static(id="filter-error")
        with Horizontal(id="browser-main"):
            yield VersionTree(id="tree")
            yield DetailsPane(id="details")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.version_tree.focus()
        self.details.show_empty("scanning…")
        # The newest screenful, read now, is in the very first frame; the details and
        # the full scan (a worker) wait until that frame is out (`first_frame_out`).
        first = first_screenful(self.root, self.app.size.height)
        if first:
            self.on_versions_scanned(VersionsScanned(first, False, scan_id=self.scan_id))
        if self.ftui.first_frame_shown:  # mounted later than the app's first frame
            self.call_after_refresh(self.first_frame_out)
        if self.poll_interval > 0:
            self.set_interval(self.poll_interval, self.poll_root)

    def on_unmount(self) -> None:
        self.closing.set()
        self.disk.stop_sizes()

    def first_frame_out(self) -> None:
        """Called once the app's first frame (with the newest rows) is on screen."""
        self.details.first_frame_out()
        if self.scan_id == 0:  # no scan started yet
            self.rescan()

    @property
    def version_tree(self) -> VersionTree:
        return self.query_one(VersionTree)

    @property
    def details(self) -> DetailsPane:
        return self.query_one(DetailsPane)

    # What the headless check and tests read (the state is the source of truth).
    @property
    def scan_complete(self) -> bool:
        return self.state.scan_complete

    @property
    def scan_error(self) -> str | None:
        return self.state.scan_error

    @property
    def marked(self) -> tuple[Key, ...]:
        return self.state.marked

    @marked.setter
    def marked(self, keys: list[Key] | tuple[Key, ...]) -> None:
        self.state = replace(self.state, marked=tuple(keys)[-2:])

    @property
    def selection(self) -> Selection | None:
        """The row under the cursor. The tree's highlight message updates the state a
        moment later; an action (or a test) asking now gets the cursor's row at once."""
        node = self.version_tree.selection
        key = node.key if node is not None else None
        if key != self.state.selected:
            self.state = self.state.with_selected(key)
        return self.state.selection

    @property
    def versions(self) -> tuple[Version, ...]:
        return self.state.versions

    @property
    def sort_key(self) -> str:
        return self.state.sort_key

    # ---------------------------------------------------------------- state → screen

    def watch_state(self, old: BrowserState, new: BrowserState) -> None:
        """Redraw what differs between two states (the status line binds to it)."""
        tree = self.version_tree
        if not (
            old.versions is new.versions
            and old.query is new.query
            and (old.sort_key, old.reverse, old.flat) == (new.sort_key, new.reverse, new.flat)
            and (old.sizes is new.sizes or new.sort_key != "size")
        ):
            if rows_signature(old) == rows_signature(new) and tree.nodes_by_key:
                tree.relabel(new.shown)  # same rows (e.g. losses filled in): no rebuild
            else:
                self.rebuild_tree(new)
                return  # the rebuild assigns the selection: that state redraws the rest
        if old.marked != new.marked:
            tree.set_marked(list(new.marked))
        if old.filter_error != new.filter_error:
            error = self.query_one("#filter-error", Static)
            error.display = new.filter_error is not None
            error.update(plain(f"filter: {new.filter_error}", 300) if new.filter_error else "")
        self.sync_details(new)

    def rebuild_tree(self, state: BrowserState) -> None:
        tree = self.version_tree
        roots, children = state.forest()
        tree.show_forest(roots, children, state.marked, state.sort_key)
        if self.pending_select is not None and tree.select_key(self.pending_select):
            self.pending_select = None
        self.state = replace(state, selected=tree.selection.key if tree.selection else None)
        if self.state is state:  # nothing changed: the watcher will not run again
            self.sync_details(state)

    def sync_details(self, state: BrowserState) -> None:
        """Show the selected row in the details pane (reading the rest in a worker), or
        say why nothing is selected."""
        selection = state.selection
        if selection is None:
            self.details.show_empty(state.empty_message())
            return
        shown = self.details.selection
        if shown is not None and shown.key == selection.key and shown.version is selection.version:
            return
        self.details.show_selection(selection)
        start(self, self.read_details, selection, what=f"read {selection.label}", group="details")

    def read_details(self, selection: Selection) -> None:
        self.post_message(DetailsLoaded(load_details(selection)))

    @on(DetailsLoaded)
    def details_loaded(self, message: DetailsLoaded) -> None:
        self.details.show_loaded(message.data)

    @on(Tree.NodeHighlighted, "#tree")
    def node_highlighted(self) -> None:
        selection = self.version_tree.selection
        self.state = self.state.with_selected(selection.key if selection else None)

    def watch_maximized(self, maximized: Widget | None) -> None:
        """Back from the full-screen details (escape): the keys move the tree again."""
        if maximized is None and not self.version_tree.has_focus:
            self.version_tree.focus()

    # ---------------------------------------------------------------- view actions

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.state = self.state.with_filter(event.value)

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.version_tree.focus()

    def action_back(self) -> None:
        """Escape: leave the filter field (clearing it when focused), else clear marks."""
        field = self.query_one("#filter", Input)
        if field.has_focus or (field.display and field.value):
            field.value = ""
            field.display = False
            self.version_tree.focus()
        elif self.state.marked:
            self.action_unmark()

    def action_cycle_sort(self) -> None:
        self.state = self.state.next_sort()

    def action_reverse_sort(self) -> None:
        self.state = self.state.reversed_sort()

    def action_toggle_flat(self) -> None:
        self.state = self.state.toggled_flat()

    def action_rescan(self) -> None:
        self.rescan()

    def action_toggle_mark(self) -> None:
        selection = self.selection
        if selection is not None:
            self.state = self.state.toggled_mark(selection.key)

    def action_unmark(self) -> None:
        self.state = self.state.unmarked()

    def action_disk(self, what: str) -> None:
        """`P` prune, `a` aliases, `X` export (see disk_actions)."""
        self.disk.run(what)
