"""The run form: every editable setting of a `RunSpec`, one line each.

`t` opens it with the defaults; `R` opens it with the selected version's recorded
settings and shows, as you edit, what differs from that parent. `ctrl+s` starts the
run (after the spec's own validation), `escape` cancels. Dismisses with the spec.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static, Switch

from ftui.runs.launch import parse_devices
from ftui.store import safe_text
from ftui.train.spec import RunSpec, SpecError


def field_text(value: Any) -> str:
    """A spec value as the text of its input (what `with_overrides` parses back)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


class TrainFormScreen(Screen[RunSpec | None]):
    """Edit a spec; `parent` (for `R`) is the spec the differences are shown against."""

    BINDINGS = [
        Binding("ctrl+s", "start", "Start run"),
        Binding("escape", "cancel", "Cancel"),
        # priority: the scrolling field list would otherwise take up/down to scroll
        Binding("down", "app.focus_next", "Next field", show=False, priority=True),
        Binding("up", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    def __init__(
        self,
        spec: RunSpec,
        parent: RunSpec | None = None,
        title: str = "",
        in_process: bool = False,
        devices: list[int] | None = None,
    ) -> None:
        super().__init__()
        self.spec = spec
        self.in_process = in_process  # read by the app when the form is submitted
        self.devices = devices  # (also read by the app): the GPUs, None for the default
        self.parent_spec = parent
        self.title_text = title or "New training run"
        self.fields = RunSpec.editable_fields()
        self.error_values: dict[str, str] | None = None  # what the error shown is about
        self.ready_for_keys = False  # keys typed before the fields exist wait (typeahead.py)

    def compose(self) -> ComposeResult:
        yield Static(Text(self.title_text, style="bold"), id="form-title")
        yield Static(id="form-diff")
        yield Static(id="form-error")
        yield Static(id="form-hint")
        values = self.spec.to_dict()
        with VerticalScroll(id="form-fields"):
            for name, _label, _kind in self.fields:
                with Horizontal(classes="form-row", id=f"row-{name}"):
                    yield Static(Text(name), classes="form-label")
                    yield Input(field_text(values.get(name)), id=f"field-{name}", compact=True)
            with Horizontal(classes="form-row", id="row-devices"):
                yield Static(Text("devices"), classes="form-label")
                yield Input(field_text(self.devices), id="field-devices", compact=True)
            with Horizontal(classes="form-row", id="row-in-process"):
                yield Static(Text("in this app"), classes="form-label")
                yield Switch(self.in_process, id="form-in-process")
            yield Button("Start run (ctrl+s)", id="form-start", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(f"#field-{self.fields[0][0]}", Input).focus()
        self.query_one("#form-diff").display = self.parent_spec is not None
        self.query_one("#form-error").display = False
        self.show_differences()
        self.call_after_refresh(self.ready)

    def ready(self) -> None:
        """Fields exist and the first has focus: keys typed ahead may come in now."""
        self.ready_for_keys = True
        release = getattr(self.app, "release_typeahead", None)
        if release is not None:
            release()

    def type_ahead(self, keys: list[events.Key]) -> list[events.Key]:
        """Apply keys typed before the form was ready, as the form would have handled
        them; return those left once the form has closed (ctrl+s, escape)."""
        fresh = True  # the focused field's text is selected (Input.select_on_focus)
        typed: Input | None = None
        for index, key in enumerate(keys):
            field = self.focused if isinstance(self.focused, Input) else None
            if key.key in ("down", "tab", "enter"):
                self.focus_next()
                fresh = True
            elif key.key in ("up", "shift+tab"):
                self.focus_previous()
                fresh = True
            elif key.key in ("ctrl+s", "escape"):
                self.action_start() if key.key == "ctrl+s" else self.action_cancel()
                if self.app.screen is not self:
                    return keys[index + 1 :]
            elif field is not None and key.key == "backspace":
                field.value = "" if fresh else field.value[:-1]
                fresh, typed = False, field
            elif field is not None and key.is_printable and key.character:
                field.value = key.character if fresh else field.value + key.character
                fresh, typed = False, field
        if typed is not None and typed is self.focused:
            # after its (queued) focus event has selected everything: cursor to the end
            typed.call_later(typed.action_end)
        return []

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """The full description of the focused setting, under the title."""
        labels = {f"field-{name}": label for name, label, _ in self.fields}
        labels["field-devices"] = (
            "GPUs for this run, e.g. 0 or 0,1 (CUDA_VISIBLE_DEVICES; a run whose GPUs are"
            " busy waits its turn); empty: the default"
        )
        labels["form-in-process"] = (
            "Train inside this app (off: as its own process, which goes on if ftui closes)"
        )
        hint = labels.get(event.widget.id or "", "")
        self.query_one("#form-hint", Static).update(Text(hint, style="italic"))

    def values(self) -> dict[str, str]:
        return {name: self.query_one(f"#field-{name}", Input).value for name, _, _ in self.fields}

    def entered(self) -> dict[str, str]:
        """Everything typed in the form (the spec's fields and the devices)."""
        return {**self.values(), "devices": self.query_one("#field-devices", Input).value}

    def build(self) -> RunSpec:
        """The spec the form describes; raises `SpecError` naming the bad setting."""
        return self.spec.with_overrides(self.values())

    def show_differences(self) -> None:
        """In `R` mode: which settings differ from the parent, shown as `name old → new`."""
        if self.parent_spec is None:
            return
        try:
            current = self.build().to_dict()
        except SpecError:
            return
        before = self.parent_spec.to_dict()
        changes = []
        for name, _, _ in self.fields:
            differs = current.get(name) != before.get(name)
            self.query_one(f"#row-{name}").set_class(differs, "changed")
            if differs:
                old, new = field_text(before.get(name)), field_text(current.get(name))
                changes.append(f"{name} {old or '—'} → {new or '—'}")
        diff = Text("changed from the parent: ", style="bold")
        diff.append(safe_text("; ".join(changes)) if changes else "nothing yet (same settings)")
        self.query_one("#form-diff", Static).update(diff)

    @on(Input.Changed)
    def changed(self) -> None:
        # hide the error once the values it was about change (a Changed event that was
        # still queued when the error appeared is no reason)
        if self.entered() != self.error_values:
            self.query_one("#form-error", Static).display = False
        self.show_differences()

    @on(Switch.Changed, "#form-in-process")
    def mode_changed(self, event: Switch.Changed) -> None:
        self.in_process = event.value

    @on(Input.Submitted)
    def next_field(self) -> None:
        self.app.action_focus_next()

    @on(Button.Pressed, "#form-start")
    def start_pressed(self) -> None:
        self.action_start()

    def action_start(self) -> None:
        try:
            spec = self.build()
            spec.validate()
            devices = parse_devices(self.query_one("#field-devices", Input).value)
        except (SpecError, ValueError) as exc:
            self.show_error(str(exc))
            return
        if devices is not None and self.in_process:
            # CUDA_VISIBLE_DEVICES must be set before torch starts: a process of its own
            self.show_error("devices: a run on chosen GPUs needs its own process (turn off"
                            ' "in this app")')  # fmt: skip
            return
        self.devices = devices
        self.dismiss(spec)

    def show_error(self, text: str) -> None:
        error = self.query_one("#form-error", Static)
        error.update(Text(safe_text(text)))
        error.display = True
        self.error_values = self.entered()

    def action_cancel(self) -> None:
        self.dismiss(None)
