"""The only module that touches Textual's private API (pinned in pyproject: textual 8.x).

Each helper names what it needs and why no public API does it; `tests/app/test_private.py`
exercises every one of them, so an upgrade that breaks one fails there first.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from textual.app import App
from textual.widgets import Tree

T = TypeVar("T")


def tree_line_index(tree: Tree[Any]) -> None:
    """Build a tree's line index now, so `node.line` is current before the next refresh
    (moving the cursor to a node just added needs it)."""
    tree._tree_lines  # noqa: B018 - the property builds the index


class BatchedTree(Tree[T]):
    """A Tree that can add many nodes with one invalidation.

    `Tree.add` invalidates and refreshes the whole tree for every node it adds (the
    private `_invalidate`); inside `adding_many()` that happens once, at the end: for 10,000
    rows that saves about 0.4 s per rebuild.
    """

    _batching = False  # class default: Tree.__init__ already invalidates

    def _invalidate(self) -> None:
        if not self._batching:
            super()._invalidate()

    @contextmanager
    def adding_many(self) -> Iterator[None]:
        self._batching = True
        try:
            yield
        finally:
            self._batching = False
            self._invalidate()


def render_screen(app: App[Any]) -> Any:
    """The current screen's full frame (modal screens over their background), as the
    compositor would send it to the terminal; for reading the screen as text."""
    return app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)


def notification_messages(app: App[Any]) -> list[str]:
    """Messages of the notifications now shown (toasts wrap, so tests read them here)."""
    return [n.message for n in app._notifications]
