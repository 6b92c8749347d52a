"""Editing a version's tags (one line, comma-separated) and notes (multi-line).

TextArea (and the document machinery behind it) is imported when the notes dialog
opens, not with the browser that offers it: the first screen does not need it.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


def parse_tags(text: str) -> list[str]:
    """`best, lr-sweep  baseline` → ["best", "lr-sweep", "baseline"]: commas or spaces."""
    return [t for t in text.replace(",", " ").split() if t]


class TagsScreen(ModalScreen[list[str] | None]):
    """Returns the new tags on enter, None on escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, version_id: str, tags: tuple[str, ...]) -> None:
        super().__init__()
        self.version_id = version_id
        self.tags = tags

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Tags of {self.version_id}", style="bold"), classes="dialog-title")
            yield Input(", ".join(self.tags), placeholder="best, baseline", id="tags-input")
            yield Static(
                Text("comma or space separated · enter: save · escape: cancel", style="dim")
            )

    @on(Input.Submitted, "#tags-input")
    def save(self, event: Input.Submitted) -> None:
        self.dismiss(parse_tags(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class NotesScreen(ModalScreen[str | None]):
    """Returns the new notes on ctrl+s, None on escape."""

    BINDINGS = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "cancel", "Cancel"),
    ]

    def __init__(self, version_id: str, notes: str) -> None:
        super().__init__()
        self.version_id = version_id
        self.notes = notes

    def compose(self) -> ComposeResult:
        from textual.widgets import TextArea

        with Vertical(classes="dialog"):
            yield Static(Text(f"Notes of {self.version_id}", style="bold"), classes="dialog-title")
            yield TextArea(self.notes, id="notes-input", soft_wrap=True, tab_behavior="focus")
            yield Static(Text("ctrl+s: save · escape: cancel", style="dim"))

    def action_save(self) -> None:
        from textual.widgets import TextArea

        self.dismiss(self.query_one(TextArea).text)

    def action_cancel(self) -> None:
        self.dismiss(None)
