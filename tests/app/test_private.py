"""Every helper in ftui/app/textual_private.py against the installed Textual: an upgrade
that changes the private API it uses fails here first."""

from __future__ import annotations

from pathlib import Path

from app_helpers import open_browser

from ftui.app.textual_private import notification_messages, render_screen, tree_line_index


async def test_private_helpers_work(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        tree = app.browser.version_tree
        assert tree.nodes_by_key  # built inside adding_many(): one invalidation
        tree_line_index(tree)
        assert all(n.line >= 0 for n in tree.root.children)
        assert render_screen(app) is not None
        app.notify("hello")
        await pilot.pause()
        assert "hello" in notification_messages(app)
