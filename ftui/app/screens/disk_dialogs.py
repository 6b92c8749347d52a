"""Small dialogs of the disk actions: aliases of a row (`a`) and export (`X`)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Static

from ftui.store.text import one_line

from .edit import parse_tags


class AliasScreen(ModalScreen[list[str] | None]):
    """The aliases pointing at one version or checkpoint, edited as one line."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, aliases: list[str]) -> None:
        super().__init__()
        self.label = label
        self.aliases = aliases

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Aliases of {one_line(self.label, 100)}", style="bold"),
                         classes="dialog-title")  # fmt: skip
            yield Input(" ".join(self.aliases), placeholder="prod staging", id="alias-input")
            yield Static(
                Text(
                    "an alias names one version: setting one here moves it from where it "
                    "was · enter: save · escape: cancel",
                    style="dim",
                )  # fmt: skip
            )

    @on(Input.Submitted, "#alias-input")
    def save(self, event: Input.Submitted) -> None:
        self.dismiss(parse_tags(event.value))

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen[tuple[Path, bool] | None]):
    """Where to export the selection, and whether to merge it into the base model."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, label: str, default: Path) -> None:
        super().__init__()
        self.label = label
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(f"Export {one_line(self.label, 100)}", style="bold"),
                         classes="dialog-title")  # fmt: skip
            yield Input(str(self.default), placeholder="a new or empty folder", id="export-out")
            yield Checkbox("merge into the base model (a full model, needs the base)",
                           id="export-merge")  # fmt: skip
            yield Static(
                Text(
                    "adapter + config + tokenizer + model card; merged: full safetensors "
                    "model · enter: export · tab: merge · escape: cancel",
                    style="dim",
                )  # fmt: skip
            )

    @on(Input.Submitted, "#export-out")
    def submit(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if value:
            self.dismiss((Path(value).expanduser(), self.query_one(Checkbox).value))

    def key_enter(self) -> None:  # enter on the checkbox exports too
        if self.query_one(Checkbox).has_focus:
            value = self.query_one(Input).value.strip()
            if value:
                self.dismiss((Path(value).expanduser(), self.query_one(Checkbox).value))

    def action_cancel(self) -> None:
        self.dismiss(None)
