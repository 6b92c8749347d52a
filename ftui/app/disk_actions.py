"""Disk actions of the browser: sizes after the first paint, prune (`P`), aliases (`a`)
and export (`X`).

`DiskTools` belongs to the browser screen, which calls it from a few lines (bindings,
the end of a scan, the status line, the sort); it keeps the sizes and runs the slow
parts (walking folders, deleting, exporting) in thread workers of that screen, then
changes state back on the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.binding import Binding

from ftui.store import Version, human_size, one_line
from ftui.store.aliases import aliases_naming

from .workers import start

if TYPE_CHECKING:
    from ftui.store.prune import PrunePlan
    from ftui.store.sizes import RootSizes

    from .screens.browser import BrowserScreen
    from .selection import Selection

DISK_BINDINGS = [
    Binding("P", "disk('prune')", "Prune…"),
    Binding("a", "disk('alias')", "Aliases…", show=False),
    Binding("X", "disk('export')", "Export…", show=False),
]


class DiskTools:
    """Sizes, prune, aliases and export for one browser screen."""

    def __init__(self, screen: BrowserScreen) -> None:
        self.screen = screen
        self.sizes: dict[str, int] = {}  # version id -> bytes (du -sb of folder + metadata)
        self.root_sizes: RootSizes | None = None
        self._stop = threading.Event()

    # ------------------------------------------------------------ sizes

    def stop_sizes(self) -> None:
        """Stop the walk in progress (the screen is going: the app quits)."""
        self._stop.set()

    def start_sizes(self, versions: list[Version], scan_id: int) -> None:
        """After a complete scan: walk the folders in a worker, then fill the sizes in."""
        self._stop.set()  # a newer scan makes the walk in progress useless
        stop = self._stop = threading.Event()
        root = self.screen.root

        def work() -> None:  # raises: the screen's worker handler reports it
            from ftui.store.sizes import root_sizes  # (imported after the first frame)

            sizes = root_sizes(root, versions, stop)
            if sizes.complete and not stop.is_set():
                self.screen.app.call_from_thread(self.sizes_ready, sizes, scan_id)

        start(self.screen, work, what="measure sizes", group="sizes")

    def sizes_ready(self, sizes: RootSizes, scan_id: int) -> None:
        if scan_id != self.screen.scan_id:
            return
        self.root_sizes = sizes
        self.sizes = {version_id: b.total for version_id, b in sizes.versions.items()}
        # into the screen's state: the status line and (sorted by size) the tree follow
        self.screen.state = self.screen.state.with_sizes(self.sizes, sizes.total)

    # ------------------------------------------------------------ actions

    def run(self, what: str) -> None:
        action = {"prune": self.prune, "alias": self.alias, "export": self.export}.get(what)
        if action is not None:
            action()

    def _notify(self, text: str, severity: str = "information") -> None:
        self.screen.app.notify(one_line(text, 400), severity=severity, markup=False)  # type: ignore[arg-type]

    def _in_worker(self, work: Callable[[], Any], done: Callable[[Any], None], what: str) -> None:
        """Run `work` in a thread worker, then `done(result)` on the UI thread."""

        def run() -> None:  # raises: reported once by the worker handler, never a crash
            self.screen.app.call_from_thread(done, work())

        start(self.screen, run, what=what, group=f"disk-{what}")

    def prune(self) -> None:
        from ftui.store.prune import execute

        from .screens.prune import PruneScreen

        selection = self.screen.selection
        selected = selection.version if selection is not None else None
        versions = list(self.screen.versions)
        if not versions:
            self._notify("no versions to prune", "warning")
            return

        def planner(work: Callable[[], PrunePlan], done: Callable[[PrunePlan], None]) -> None:
            self._in_worker(work, done, "plan the prune")

        def answered(plan: PrunePlan | None) -> None:
            if plan is not None:
                self._in_worker(lambda: execute(plan, self.screen.root), self._pruned, "prune")

        self.screen.app.push_screen(PruneScreen(selected, versions, planner), answered)

    def _pruned(self, result: Any) -> None:
        self._notify(f"pruned: {human_size(result.freed)} freed")
        for error in result.errors[:3]:
            self._notify(error, "error")
        self.screen.rescan()

    def alias(self) -> None:
        selection = self.screen.selection
        if selection is None:
            return
        checkpoint = selection.checkpoint.name if selection.checkpoint else None
        current = aliases_naming(selection.version, checkpoint)
        label = self._target(selection)

        def save(names: list[str] | None) -> None:
            if names is not None:
                self._save_aliases(label, current, names)

        from .screens.disk_dialogs import AliasScreen

        self.screen.app.push_screen(AliasScreen(label, current), save)

    @staticmethod
    def _target(selection: Selection) -> str:
        version = selection.version
        if selection.checkpoint is None:
            return version.id
        return f"{version.id}:{selection.checkpoint.name}"

    def _save_aliases(self, target: str, current: list[str], names: list[str]) -> None:
        from ftui.store.aliases import AliasError, alias_problem, remove_alias, set_alias
        from ftui.store.naming import find_version

        root = self.screen.root
        for name in names:
            problem = alias_problem(name)
            clash = find_version(self.screen.versions, name)
            if problem is not None or clash is not None:
                why = problem or f"it is the id of version {clash.id}"  # type: ignore[union-attr]
                self._notify(f"{name!r} cannot be an alias: {why}", "error")
                return
        try:
            for name in current:
                if name not in names:
                    remove_alias(root, name)
            moved = []
            for name in names:
                if name not in current:
                    before = set_alias(root, name, target)
                    if before is not None and before != target:
                        moved.append(f"{name} (was {before})")
        except AliasError as exc:
            self._notify(f"could not save the aliases: {exc}", "error")
            return
        shown = ", ".join(names) or "none"
        note = f"; moved {', '.join(moved)}" if moved else ""
        self._notify(f"aliases of {target}: {shown}{note}")
        self.screen.rescan()

    def export(self) -> None:
        selection = self.screen.selection
        if selection is None:
            return
        label = self._target(selection)
        default = Path.cwd() / "exports" / label.replace(":", "-")
        version, checkpoint = selection.version, selection.checkpoint

        def chosen(answer: tuple[Path, bool] | None) -> None:
            if answer is None:
                return
            from ftui.train.export import ExportError, check_destination

            out, merge = answer
            try:
                check_destination(out)
            except ExportError as exc:
                self._notify(str(exc), "error")
                return
            self._notify(f"exporting {label} to {out}{' (merging)' if merge else ''}…")

            def work() -> Path:
                from ftui.train.export import export_version

                return export_version(version, out, checkpoint, merge=merge)

            def done(path: Path) -> None:
                self._notify(f"exported {label} to {path}")

            self._in_worker(work, done, f"export {label}")

        from .screens.disk_dialogs import ExportScreen

        self.screen.app.push_screen(ExportScreen(label, default), chosen)
