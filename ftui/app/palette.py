"""The app's semantic colours, taken from the theme through the stylesheet.

Text drawn in Python (tree rows, status words, errors) asks for its screen's palette:
one Rich style per name below, read from the component classes `ftui--<name>` that
ftui.tcss colours with theme variables ($success, $error, $warning…). So a theme or
NO_COLOR changes them everywhere, and no colour is written in Python.

The classes are declared once per screen (`COMPONENT_CLASSES = COMPONENT_CLASSES`), not
on each widget: Textual restyles every component class of a node whenever the node is
restyled, which made the palette a sizeable part of the first frame.
"""

from __future__ import annotations

from collections.abc import Mapping

from rich.style import Style
from textual.widget import Widget

NAMES = (
    "completed",
    "running",
    "queued",
    "failed",
    "cancelled",
    "interrupted",
    "damaged",
    "lora",
    "alias",
    "warning",
    "error",
    "side_a",  # compare: A and B, in the plot and the header
    "side_b",
)
COMPONENT_CLASSES: set[str] = {f"ftui--{name}" for name in NAMES}

Palette = Mapping[str, Style]


def palette_of(widget: Widget) -> dict[str, Style]:
    """The palette of the widget's screen (plain styles on a screen that declares none)."""
    screen = widget.screen
    if not COMPONENT_CLASSES <= screen.COMPONENT_CLASSES:
        return {name: Style() for name in NAMES}
    return {
        name: screen.get_component_rich_style(f"ftui--{name}", partial=True) for name in NAMES
    }  # partial: no background, so the cursor row keeps its highlight
