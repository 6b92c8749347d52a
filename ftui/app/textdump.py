"""The screen as plain text: what a user would read, for tests and the headless check."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App

from .textual_private import render_screen


def screen_text(app: App[Any]) -> str:
    """Every visible line of the current screen (modal screens over their background)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(render_screen(app))
    return console.export_text(styles=False)
