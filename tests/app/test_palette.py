"""Colours come from the theme (ftui.tcss component classes), never from Python."""

from __future__ import annotations

import re
from pathlib import Path

from app_helpers import V3, open_browser, settle

from ftui.app.palette import NAMES

APP = Path(__file__).resolve().parents[2] / "ftui" / "app"
COLOUR = re.compile(r"""["'][^"'\n]*\b(red|green|yellow|cyan|magenta|orange1?|blue|gr[ae]y)\b""")


def test_no_colour_names_in_the_app_code() -> None:
    found = [
        f"{path.name}:{number}: {line.strip()}"
        for path in sorted(APP.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if COLOUR.search(line) and not line.lstrip().startswith("#")
    ]
    assert found == []


def test_every_palette_name_is_styled_in_the_stylesheet() -> None:
    css = (APP / "ftui.tcss").read_text()
    for name in NAMES:
        assert f".ftui--{name}" in css, name


async def test_rows_take_the_theme_colours(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        tree = app.browser.version_tree
        failed = tree.palette["failed"]
        label = tree.nodes_by_key[(V3, None)].label
        assert any(span.style == failed for span in label.spans)  # the ✗ of a failed run
        assert failed.color is not None and failed.bgcolor is None  # no background painted
        app.theme = "textual-light"
        await settle(pilot)
        app.browser.rescan()
        await settle(pilot)
        tree.show_forest(*app.browser.state.forest(), app.browser.state.marked)
        assert tree.palette["failed"].color != failed.color  # it follows the theme
