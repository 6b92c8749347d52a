"""All keys of the screen below, with what they do, plus the filter syntax."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

FILTER_HELP = """\
Filter (/): space-separated terms, all must match
  eval_loss<0.9  loss<=1.2  r=16  alpha>=32  lr<1e-4  epochs=3
  base=gpt2  status:failed  tag:best  parent:v_2026…  id:…  notes:…
  any other word: a substring of id, base model, tags or notes"""

KEY_NAMES = {"question_mark": "?", "slash": "/", "space": "space", "escape": "esc"}


def key_label(keys: str) -> str:
    return " ".join(KEY_NAMES.get(k, k) for k in keys.split(","))


class HelpScreen(ModalScreen[None]):
    """`rows` are (keys, description) pairs gathered from the screen it covers."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close")]

    def __init__(self, title: str, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, padding=(0, 2), show_header=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column()
        for keys, description in self.rows:
            table.add_row(Text(keys), Text(description))
        with VerticalScroll(classes="dialog", id="help"):
            yield Static(Text(f"Keys: {self.title_text}", style="bold"), classes="dialog-title")
            yield Static(table)
            yield Static(Text(FILTER_HELP))
            yield Static(Text("escape: close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
