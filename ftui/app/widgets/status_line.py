"""The browser's top line: root, counts, scan progress, sort, filter and marks.

It renders a `BrowserState` it is given (bound to the screen's reactive `state`), so any
change of filter, sort or marks redraws it with no call from the screen. Styles come from
the stylesheet's component classes (theme variables), not from colours in Python.
"""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from ftui.store import human_size

from ..browser_state import BrowserState
from ..format import plain


class StatusLine(Widget):
    """One line of what the browser is showing."""

    COMPONENT_CLASSES = {
        "status-line--app",
        "status-line--error",
        "status-line--busy",
        "status-line--label",
    }

    state: reactive[BrowserState | None] = reactive(None, layout=False)

    def render(self) -> Text:
        state = self.state
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append("ftui ", style=self.get_component_rich_style("status-line--app"))
        if state is None:
            return line
        line.append_text(plain(str(state.root), 40))
        label = self.get_component_rich_style("status-line--label")
        if state.scan_error:
            line.append(f"  {state.scan_error}", style=self.get_component_rich_style(
                "status-line--error"))  # fmt: skip
        else:
            count = f"  {len(state.versions)} versions"
            if state.query is not None:
                count += f" ({len(state.shown)} shown)"
            line.append(count)
            if not state.scan_complete:
                line.append(" scanning…", style=self.get_component_rich_style("status-line--busy"))
        line.append("  sort: ", style=label)
        line.append(state.sort_label)
        if state.flat:
            line.append("  flat", style=label)
        if state.disk_total is not None:
            line.append(f"  {human_size(state.disk_total)} on disk")
        if state.query is not None:
            line.append("  filter: ", style=label)
            line.append_text(plain(state.query.text, 40))
        if state.marked:
            names = " ".join(f"{'AB'[i]}={state.label_of(k)}" for i, k in enumerate(state.marked))
            line.append("  marked: ", style=label)
            line.append_text(plain(names, 80))
        return line
