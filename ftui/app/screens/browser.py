"""The main screen: the version tree beside the details of the selected row.

The screen owns the state (all versions, filter, sort, marks) and relays between its
widgets: the tree and the details pane only show what they are given. Scans and reads
run in thread workers that post messages; the handlers here change state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, Tree

from ftui.store import (
    Metrics,
    Refused,
    RootError,
    Version,
    WriteError,
    human_size,
    one_line,
    removal_plan,
)
from ftui.store import delete as delete_version
from ftui.store.query import SORT_KEYS, Query, QueryError, parse_query, sort_versions
from ftui.store.writer import set_notes, set_tags

from ..disk_actions import DISK_BINDINGS, DiskTools
from ..format import plain
from ..loading import (
    fill_metrics,
    first_screenful,
    load_details,
    root_signature,
    scan_batches,
)
from ..messages import DetailsLoaded, MetricsFilled, VersionsScanned, WorkFailed
from ..selection import Key, Selection
from ..widgets.details import DetailsPane
from ..widgets.version_tree import VersionTree
from .confirm import ConfirmScreen
from .edit import NotesScreen, TagsScreen

if TYPE_CHECKING:
    from ..main import FtuiApp

POLL_INTERVAL_S = 2.0
SORT_ORDER = list(SORT_KEYS)


class BrowserScreen(Screen[None]):
    """Browse, filter, sort, mark, tag, delete; start compare and training from here."""

    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("space", "toggle_mark", "Mark", show=False),
        Binding("c", "compare", "Compare"),
        Binding("t", "train", "Train"),
        Binding("r", "retrain", "Retrain"),
        Binding("R", "retrain_form", "Retrain…"),
        Binding("w", "watch_run", "Watch run"),
        Binding("x", "cancel_run", "Cancel run"),
        Binding("C", "resume_run", "Resume run"),
        Binding("e", "edit_tags", "Tags"),
        Binding("n", "edit_notes", "Notes"),
        Binding("d", "delete", "Delete"),
        Binding("enter", "open", "Open", show=False),
        Binding("f5,ctrl+r", "rescan", "Rescan", show=False),
        Binding("u", "unmark", "Clear marks", show=False),
        Binding("escape", "back", "Back", show=False),
        *DISK_BINDINGS,
    ]

    def __init__(self, root: Path, *, poll_interval: float = POLL_INTERVAL_S) -> None:
        super().__init__()
        self.root = root
        self.poll_interval = poll_interval
        self.versions: list[Version] = []
        self.by_id: dict[str, Version] = {}
        self.scan_complete = False
        self.scan_error: str | None = None
        self.scan_id = 0
        self.signature: int | None = None
        self.query_filter: Query | None = None
        self.filter_error: str | None = None
        self.sort_key = "time"
        self.marked: list[Key] = []
        self.pending_select: Key | None = None
        # losses read from histories, kept across rescans (only metrics, never metadata)
        self.filled: dict[tuple[str, str, int], Metrics] = {}
        self.shown_count = 0
        self.early_key: Key | None = None
        # Set when the screen goes (the app quits): the scan and history workers stop
        # early instead of keeping the process alive to read 10,000 folders.
        self.closing = threading.Event()
        self.disk = DiskTools(self)  # sizes, prune, aliases, export

    # ---------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield Static(id="status-line")
        yield Input(
            placeholder="filter: eval_loss<0.9 r=16 base=gpt2 tag:best, or text", id="filter"
        )
        yield Static(id="filter-error")
        with Horizontal(id="browser-main"):
            yield VersionTree(id="tree")
            yield DetailsPane(id="details")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False
        self.query_one(VersionTree).focus()
        self.query_one(DetailsPane).show_empty("scanning…")
        # The newest screenful, read now, is in the very first frame; the details and
        # the full scan (a worker) wait until that frame is out (`first_frame_out`).
        first = first_screenful(self.root, self.app.size.height)
        if first:
            self.versions_scanned(VersionsScanned(first, False, scan_id=self.scan_id))
        self.update_status_line()
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

    # ---------------------------------------------------------------- scanning

    def rescan(self) -> None:
        self.scan_id += 1
        self.signature = root_signature(self.root)
        self.scan_worker(self.scan_id)

    @work(thread=True, exclusive=True, group="scan", exit_on_error=False)
    def scan_worker(self, scan_id: int) -> None:
        try:
            for versions, complete in scan_batches(self.root, self.closing):
                self.post_message(VersionsScanned(versions, complete, scan_id=scan_id))
        except RootError as exc:
            self.post_message(VersionsScanned([], True, str(exc), scan_id=scan_id))
        except Exception as exc:  # a bug must not take the app down: report it
            self.post_message(WorkFailed("scan", f"{type(exc).__name__}: {exc}"))

    @work(thread=True, exclusive=True, group="metrics", exit_on_error=False)
    def metrics_worker(self, versions: list[Version], scan_id: int) -> None:
        try:
            filled = fill_metrics(versions, self.closing)
        except Exception as exc:
            self.post_message(WorkFailed("reading loss histories", f"{exc}"))
            return
        if filled:
            self.post_message(MetricsFilled(filled, scan_id))

    def poll_root(self) -> None:
        """Cheap check (one stat) for versions added, removed or rewritten elsewhere."""
        if self.scan_complete and root_signature(self.root) != self.signature:
            self.rescan()

    @staticmethod
    def _fill_key(version: Version) -> tuple[str, str, int]:
        return (version.id, version.status.value, len(version.checkpoints))

    @on(VersionsScanned)
    def versions_scanned(self, message: VersionsScanned) -> None:
        if message.scan_id != self.scan_id:
            return
        self.scan_complete = message.complete
        self.scan_error = message.error
        versions = [self._with_filled(v) for v in message.versions]
        self.set_versions(versions)
        tree = self.version_tree
        key = tree.selection.key if tree.selection else None
        if not message.complete:
            self.early_key = key  # where the cursor landed on its own, before all was read
        elif self.early_key is not None:
            if key == self.early_key and self.pending_select is None:
                tree.select_first()  # the user did not move: start at the top of the full list
            self.early_key = None
        if message.complete and message.error is None:
            self.disk.start_sizes(versions, message.scan_id)
            missing = [v for v in versions if v.final_loss is None]
            if missing:
                self.metrics_worker(missing, message.scan_id)

    def _with_filled(self, version: Version) -> Version:
        metrics = self.filled.get(self._fill_key(version))
        if metrics is None or version.final_loss is not None:
            return version
        return replace(version, metrics=metrics)

    @on(MetricsFilled)
    def metrics_filled(self, message: MetricsFilled) -> None:
        for version in message.versions.values():
            self.filled[self._fill_key(version)] = version.metrics
        if message.scan_id != self.scan_id:
            return
        versions = [message.versions.get(v.id, v) for v in self.versions]
        if self.query_filter is None and self.sort_key in ("time", "name"):
            # Losses do not move rows in these orders: relabel in place, no rebuild.
            self.versions = versions
            self.by_id = {v.id: v for v in versions}
            self.version_tree.relabel(list(message.versions.values()))
            self.sync_details()
        else:
            self.set_versions(versions)

    def set_versions(self, versions: list[Version]) -> None:
        self.versions = versions
        self.by_id = {v.id: v for v in versions}
        self.marked = [k for k in self.marked if self.resolve(k) is not None]
        self.refresh_tree()

    def shown_versions(self) -> list[Version]:
        versions = self.versions
        if self.query_filter is not None:
            versions = self.query_filter.filter(versions)
        return sort_versions(versions, self.sort_key, sizes=self.disk.sizes)

    def refresh_tree(self) -> None:
        tree = self.version_tree
        shown = self.shown_versions()
        self.shown_count = len(shown)
        tree.show_versions(shown, self.marked)
        if self.pending_select is not None and tree.select_key(self.pending_select):
            self.pending_select = None
        self.update_status_line()
        self.sync_details()

    def update_status_line(self) -> None:
        line = Text()
        line.append("ftui ", style="bold")
        line.append_text(plain(str(self.root), 40))
        if self.scan_error:
            line.append(f"  {self.scan_error}", style="bold red")
        else:
            count = f"  {len(self.versions)} versions"
            if self.query_filter is not None:
                count += f" ({self.shown_count} shown)"
            line.append(count)
            if not self.scan_complete:
                line.append(" scanning…", style="italic")
        line.append(f"  sort: {SORT_KEYS[self.sort_key]}")
        if self.query_filter is not None:
            line.append("  filter: ")
            line.append_text(plain(self.query_filter.text, 40))
        line.append_text(self.disk.status_text())  # the root's size, once measured
        if self.marked:
            names = " ".join(f"{'AB'[i]}={self.label_of(k)}" for i, k in enumerate(self.marked))
            line.append("  marked: ")
            line.append_text(plain(names, 80))
        self.query_one("#status-line", Static).update(line)
        error = self.query_one("#filter-error", Static)
        error.display = self.filter_error is not None
        error.update(plain(f"filter: {self.filter_error}", 300) if self.filter_error else "")

    # ---------------------------------------------------------------- selection & details

    def resolve(self, key: Key) -> Selection | None:
        version = self.by_id.get(key[0])
        if version is None:
            return None
        if key[1] is None:
            return Selection(version)
        checkpoint = version.checkpoint(key[1])
        return Selection(version, checkpoint) if checkpoint else None

    def label_of(self, key: Key) -> str:
        return key[0] if key[1] is None else f"{key[0]}/{key[1]}"

    @property
    def selection(self) -> Selection | None:
        return self.version_tree.selection

    @on(Tree.NodeHighlighted, "#tree")
    def node_highlighted(self) -> None:
        self.sync_details()

    def sync_details(self) -> None:
        """Show the highlighted row in the details pane (reading the rest in a worker)."""
        selection = self.selection
        shown = self.details.selection
        if selection is None:
            if self.scan_complete:
                if self.scan_error and not self.root.exists():
                    message = (
                        f"{self.scan_error}\n\npress t to train the first version here"
                        " (the folder is created), or open another folder: ftui DIR"
                    )
                else:
                    message = self.scan_error or (
                        "no versions match the filter"
                        if self.versions
                        else "no versions yet: press t to train one"
                    )
                self.details.show_empty(message)
            return
        if shown is not None and shown.key == selection.key and shown.version is selection.version:
            return
        self.details.show_selection(selection)
        self.details_worker(selection)

    @work(thread=True, exclusive=True, group="details", exit_on_error=False)
    def details_worker(self, selection: Selection) -> None:
        try:
            self.post_message(DetailsLoaded(load_details(selection)))
        except Exception as exc:
            self.post_message(WorkFailed(f"reading {selection.label}", f"{exc}"))

    @on(DetailsLoaded)
    def details_loaded(self, message: DetailsLoaded) -> None:
        self.details.show_loaded(message.data)

    def select_version(self, version_id: str) -> None:
        """Select a version once it is in the tree (now, or after the next scan)."""
        key: Key = (version_id, None)
        if not self.version_tree.select_key(key):
            self.pending_select = key
            self.rescan()

    # ---------------------------------------------------------------- actions

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        try:
            self.query_filter = parse_query(text) if text else None
            self.filter_error = None
        except QueryError as exc:
            self.filter_error = str(exc)
            self.update_status_line()
            return
        self.refresh_tree()

    @on(Input.Submitted, "#filter")
    def filter_submitted(self, event: Input.Submitted) -> None:
        if not event.value.strip():
            event.input.display = False
        self.version_tree.focus()

    def action_back(self) -> None:
        """Escape: leave the filter field (clearing it when focused), else clear marks."""
        field = self.query_one("#filter", Input)
        if field.has_focus:
            field.value = ""
            field.display = False
            self.version_tree.focus()
        elif field.display and field.value:
            field.value = ""
            field.display = False
        elif self.marked:
            self.action_unmark()

    def action_cycle_sort(self) -> None:
        self.sort_key = SORT_ORDER[(SORT_ORDER.index(self.sort_key) + 1) % len(SORT_ORDER)]
        self.refresh_tree()

    def action_rescan(self) -> None:
        self.rescan()

    def action_open(self) -> None:
        """Enter: the details of the row, full screen (escape comes back)."""
        if self.selection is not None:
            self.maximize(self.details)
            self.details.focus()

    def action_toggle_mark(self) -> None:
        selection = self.selection
        if selection is None:
            return
        key = selection.key
        if key in self.marked:
            self.marked.remove(key)
        else:
            self.marked = [*self.marked, key][-2:]
        self.version_tree.set_marked(self.marked)
        self.update_status_line()

    def action_unmark(self) -> None:
        self.marked = []
        self.version_tree.set_marked([])
        self.update_status_line()

    def compare_pair(self) -> tuple[Selection, Selection] | str:
        """The two sides `c` compares, or why there are none."""
        selection = self.selection
        marked = [s for s in (self.resolve(k) for k in self.marked) if s is not None]
        if len(marked) == 2:
            return marked[0], marked[1]
        if len(marked) == 1 and selection is not None and selection.key != marked[0].key:
            return marked[0], selection
        if selection is None:
            return "nothing selected"
        parent = selection.version.parent
        if selection.checkpoint is not None:
            return selection, Selection(selection.version)
        if parent is not None and parent.version_id in self.by_id:
            a = self.resolve((parent.version_id, parent.checkpoint)) or self.resolve(
                (parent.version_id, None)
            )
            if a is not None:
                return a, selection
        return "mark two versions with space (or select one that has a parent), then press c"

    def action_compare(self) -> None:
        pair = self.compare_pair()
        if isinstance(pair, str):
            self.app.notify(pair, severity="warning", markup=False)
            return
        from .compare import CompareScreen

        self.app.push_screen(CompareScreen(*pair))

    def _editable(self) -> Version | None:
        selection = self.selection
        if selection is None:
            return None
        version = selection.version
        if version.metadata_path is None:
            self.app.notify(
                f"{version.id} is a plain Trainer folder with no metadata file to edit",
                severity="warning",
                markup=False,
            )
            return None
        return version

    def action_edit_tags(self) -> None:
        version = self._editable()
        if version is None:
            return

        def save(tags: list[str] | None) -> None:
            if tags is not None and version.metadata_path is not None:
                self._write(f"tags of {version.id}", set_tags, version.metadata_path, tags)

        self.app.push_screen(TagsScreen(version.id, version.tags), save)

    def action_edit_notes(self) -> None:
        version = self._editable()
        if version is None:
            return

        def save(notes: str | None) -> None:
            if notes is not None and version.metadata_path is not None:
                self._write(f"notes of {version.id}", set_notes, version.metadata_path, notes)

        self.app.push_screen(NotesScreen(version.id, version.notes), save)

    def _write(
        self, what: str, write: Callable[[Path, Any], object], path: Path, value: Any
    ) -> None:
        """Save tags or notes (a small atomic write), then rescan: the file is the truth."""
        try:
            write(path, value)
        except WriteError as exc:
            self.app.notify(f"could not save the {what}: {exc}", severity="error", markup=False)
            return
        self.app.notify(f"saved the {what}", markup=False)
        self.rescan()

    def action_cancel_run(self) -> None:
        """`x`: cancel the selected running or queued version (asks first)."""
        selection = self.selection
        if selection is None or not selection.version.status.live:
            self.app.notify("select a running or queued version to cancel it", severity="warning")
            return
        self.ftui.confirm_cancel(selection.version.id)

    def action_resume_run(self) -> None:
        """`C`: resume the selected interrupted, cancelled or failed version."""
        self.ftui.resume(self.selection)

    def action_delete(self) -> None:
        selection = self.selection
        if selection is None:
            return
        version, checkpoint = selection.version, selection.checkpoint
        if version.status.live and checkpoint is None:
            self.app.notify(
                f"{version.id} is still {version.status}: cancel it first (x)",
                severity="warning",
                markup=False,
            )
            return
        self.removal_plan_worker(selection)

    @work(thread=True, exclusive=True, group="delete", exit_on_error=False)
    def removal_plan_worker(self, selection: Selection) -> None:
        """Work out what `d` would remove (walks the folder: never on the UI thread)."""
        try:
            paths, size = removal_plan(selection.version, selection.checkpoint, root=self.root)
        except Refused as exc:
            self.post_message(WorkFailed(f"refused to delete {selection.label}", str(exc)))
            return
        except Exception as exc:  # user data must never take the app down
            self.post_message(WorkFailed(f"deleting {selection.label}", f"{exc}"))
            return
        links = {path for path in paths if path.is_symlink()}
        dirs = {path for path in paths if path.is_dir() and path not in links}
        self.app.call_from_thread(self.confirm_delete, selection, paths, size, links, dirs)

    def confirm_delete(
        self, selection: Selection, paths: list[Path], size: int, links: set[Path], dirs: set[Path]
    ) -> None:
        if not paths:
            self.app.notify(f"{one_line(selection.label)}: nothing left to delete", markup=False)
            return
        body = Text("In ")
        body.append_text(plain(str(self.root), 300))
        body.append(" this removes:\n")
        for path in paths:
            name = path.relative_to(self.root) if path.is_relative_to(self.root) else path
            suffix = " (a link: only the link)" if path in links else "/" if path in dirs else ""
            body.append("  ")
            body.append_text(plain(str(name) + suffix, 200))
            body.append("\n")
        body.append(f"and frees {human_size(size)}. Nothing else is touched.")
        what = "checkpoint" if selection.checkpoint else "version"

        def answer(yes: bool | None) -> None:
            if yes:
                self.delete_worker(selection)

        title = f"Delete {what} {one_line(selection.label, 120)}?"
        self.app.push_screen(ConfirmScreen(title, body), answer)

    @work(thread=True, exclusive=True, group="delete", exit_on_error=False)
    def delete_worker(self, selection: Selection) -> None:
        try:
            freed = delete_version(selection.version, selection.checkpoint, root=self.root)
        except Refused as exc:
            self.post_message(WorkFailed(f"refused to delete {selection.label}", str(exc)))
            return
        except OSError as exc:
            self.post_message(WorkFailed(f"deleting {selection.label}", exc.strerror or str(exc)))
            return
        self.app.call_from_thread(self.deleted, selection, freed)

    def deleted(self, selection: Selection, freed: int) -> None:
        label = one_line(selection.label, 120)
        self.app.notify(f"deleted {label} ({human_size(freed)} freed)", markup=False)
        self.marked = [k for k in self.marked if k != selection.key]
        self.rescan()

    # training actions: the app owns runs (they outlive this screen's dialogs)

    @property
    def ftui(self) -> FtuiApp:
        return cast("FtuiApp", self.app)

    def action_train(self) -> None:
        self.ftui.open_train_form(None)

    def action_retrain(self) -> None:
        if self.selection is not None:
            self.ftui.retrain(self.selection)

    def action_retrain_form(self) -> None:
        if self.selection is not None:
            self.ftui.open_train_form(self.selection)

    def action_watch_run(self) -> None:
        self.ftui.watch_run(self.selection)

    def action_disk(self, what: str) -> None:
        """`P` prune, `a` aliases, `X` export (see disk_actions)."""
        self.disk.run(what)
