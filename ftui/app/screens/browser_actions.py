"""The browser's actions on the selected row: open, compare, tags, notes, delete, train.

A mixin of `BrowserScreen` (kept apart so each file has one job): every action reads the
screen's `state` and either opens another screen or starts a worker; nothing here draws.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from rich.text import Text

from ftui.store import Version, human_size, one_line, removal_plan
from ftui.store import delete as delete_version
from ftui.store.writer import set_notes, set_tags

from ..format import plain
from ..selection import Selection
from ..workers import start
from .confirm import ConfirmScreen
from .edit import NotesScreen, TagsScreen

if TYPE_CHECKING:
    from ..browser_state import BrowserState
    from ..main import FtuiApp
    from ..widgets.details import DetailsPane
    from ..widgets.version_tree import VersionTree

MAX_NAMED = 12  # children or files named in a confirmation; the rest are counted


if TYPE_CHECKING:
    from textual.screen import Screen

    _Base = Screen[None]
else:
    _Base = object


class BrowserActions(_Base):
    """Actions of the browser screen (mixed into `BrowserScreen`)."""

    if TYPE_CHECKING:  # provided by BrowserScreen
        root: Path
        state: BrowserState

        @property
        def version_tree(self) -> VersionTree: ...
        @property
        def details(self) -> DetailsPane: ...

        def rescan(self) -> None: ...
        @property
        def selection(self) -> Selection | None: ...

    @property
    def ftui(self) -> FtuiApp:
        return cast("FtuiApp", self.app)

    def action_open(self) -> None:
        """Enter: the details of the row, full screen (escape comes back)."""
        if self.selection is not None:
            self.maximize(self.details, container=False)
            self.details.focus()

    def action_compare(self) -> None:
        self.selection  # noqa: B018 - the state's selection is the cursor's row now
        pair = self.state.compare_pair()
        if isinstance(pair, str):
            self.app.notify(pair, severity="warning", markup=False)
            return
        from .compare import CompareScreen

        self.app.push_screen(CompareScreen(*pair))

    # ---------------------------------------------------------------- tags and notes

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
        from ftui.store import WriteError

        try:
            write(path, value)
        except WriteError as exc:
            self.app.notify(f"could not save the {what}: {exc}", severity="error", markup=False)
            return
        self.app.notify(f"saved the {what}", markup=False)
        self.rescan()

    # ---------------------------------------------------------------- delete

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
        start(self, self.plan_removal, selection, what=f"delete {selection.label}", group="delete")

    def plan_removal(self, selection: Selection) -> None:
        """Work out what `d` would remove (walks the folder: never on the UI thread)."""
        paths, size = removal_plan(selection.version, selection.checkpoint, root=self.root)
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
        for path in paths[:MAX_NAMED]:
            name = path.relative_to(self.root) if path.is_relative_to(self.root) else path
            suffix = " (a link: only the link)" if path in links else "/" if path in dirs else ""
            body.append("  ")
            body.append_text(plain(str(name) + suffix, 200))
            body.append("\n")
        if len(paths) > MAX_NAMED:
            body.append(f"  … {len(paths) - MAX_NAMED} more\n")
        body.append(f"and frees {human_size(size)}. Nothing else is touched.")
        body.append_text(self.delete_consequences(selection))
        what = "checkpoint" if selection.checkpoint else "version"

        def answer(yes: bool | None) -> None:
            if yes:
                start(
                    self,
                    self.delete_selection,
                    selection,
                    what=f"delete {selection.label}",
                    group="delete",
                )

        title = f"Delete {what} {one_line(selection.label, 120)}?"
        self.app.push_screen(ConfirmScreen(title, body), answer)

    def delete_consequences(self, selection: Selection) -> Text:
        """What else a delete changes: versions trained from it lose their parent (they
        move to the top level) and its tags go with it."""
        text = Text()
        version = selection.version
        children = [
            v
            for v in self.state.children_of(version.id)
            if selection.checkpoint is None
            or (v.parent is not None and v.parent.checkpoint == selection.checkpoint.name)
        ]
        if children:
            names = ", ".join(v.id for v in children[:MAX_NAMED])
            more = f" and {len(children) - MAX_NAMED} more" if len(children) > MAX_NAMED else ""
            count = len(children)
            text.append(
                f"\n{count} version{'s' if count != 1 else ''} trained from it "
                "will show without a parent (they are kept): ",
                style="bold",
            )
            text.append_text(plain(names + more, 600))
        if selection.checkpoint is None and version.tags:
            text.append("\nits tags go with it: ", style="bold")
            text.append_text(plain(", ".join(version.tags), 300))
        return text

    def delete_selection(self, selection: Selection) -> None:
        freed = delete_version(selection.version, selection.checkpoint, root=self.root)
        self.app.call_from_thread(self.deleted, selection, freed)

    def deleted(self, selection: Selection, freed: int) -> None:
        label = one_line(selection.label, 120)
        self.app.notify(f"deleted {label} ({human_size(freed)} freed)", markup=False)
        self.state = self.state.unmarked(selection.key)
        self.rescan()

    # ---------------------------------------------------------------- training
    # The app owns runs (they outlive this screen's dialogs).

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
