"""Yes/no questions answered from the keyboard.

`ConfirmScreen` (`y`/`enter` yes, `n`/`escape` no) for what can be undone or redone;
`StrictConfirmScreen` only answers to `y` or `n`, for what kills work in progress
(cancelling a run, quitting during one): a stray escape, or half of a split Alt/arrow
sequence over SSH, cannot answer it.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmScreen(ModalScreen[bool]):
    """Dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]
    HINT = "y / enter: yes    n / escape: no"

    def __init__(self, title: str, body: Text) -> None:
        super().__init__()
        self.title_text = title
        self.body = body

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), classes="dialog-title")
            yield Static(self.body, id="confirm-body")
            yield Static(Text(self.HINT), classes="dialog-hint")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class StrictConfirmScreen(ConfirmScreen, inherit_bindings=False):
    """Only `y` or `n` answer; escape and enter are swallowed."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape,enter", "ignore", "", show=False),
    ]
    HINT = "y: yes    n: no"

    def action_ignore(self) -> None:
        """A stray key: the question stays until y or n."""
