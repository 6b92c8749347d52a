"""The version tree: versions nest under their parent, checkpoints under their version."""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets.tree import TreeNode

from ftui.store import Version

from ..format import checkpoint_label, version_label
from ..palette import Palette, palette_of
from ..selection import Key, Selection
from ..textual_private import BatchedTree, tree_line_index

MAX_DEPTH = 40  # nesting levels shown; deeper lineages continue at this level


class VersionTree(BatchedTree[Selection]):
    """Shows what it is given (`show_forest`); the screen handles what is highlighted."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
        Binding("l,right", "expand", "Expand", show=False),
        Binding("h,left", "collapse", "Collapse", show=False),
        Binding("g,home", "scroll_home", "First", show=False),
        Binding("G,end", "scroll_end", "Last", show=False),
        # space marks (a screen action); enter opens (screen); neither toggles here
        Binding("space", "screen.toggle_mark", "Mark", show=False),
        Binding("enter", "screen.open", "Open", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__("versions", id=id)
        self.show_root = False
        self.guide_depth = 2
        self.auto_expand = False
        self.nodes_by_key: dict[Key, TreeNode[Selection]] = {}
        self.marked: list[Key] = []
        self.sort_key = "time"  # which loss the rows show follows the sort
        self.palette: Palette = {}

    def get_label_width(self, node: TreeNode[Selection]) -> int:
        """Cell width of a row: the label plus the expand icon (Textual invites overriding
        this where it can be done cheaper than rendering the label)."""
        label = node.label
        return (label.cell_len if isinstance(label, Text) else len(label)) + 2

    def show_forest(
        self,
        roots: list[Version],
        children: dict[str, list[Version]],
        marked: list[Key] | tuple[Key, ...],
        sort_key: str = "time",
    ) -> None:
        """Rebuild from `roots` and their `children` (filtered and sorted), keeping the
        cursor, what was expanded and the marks wherever those rows still exist."""
        cursor = self.cursor_node.data.key if self.cursor_node and self.cursor_node.data else None
        expanded = {k for k, n in self.nodes_by_key.items() if n.is_expanded}
        known = set(self.nodes_by_key)
        self.marked = list(marked)
        self.sort_key = sort_key
        self.palette = palette_of(self)  # (again on each rebuild: the theme may change)
        self.clear()
        self.nodes_by_key = {}

        def add(parent: TreeNode[Selection], version: Version) -> TreeNode[Selection]:
            kids = children.get(version.id, [])
            key: Key = (version.id, None)
            # new rows with child versions start open; checkpoints start folded
            expand = key in expanded if key in known else bool(kids)
            node = parent.add(
                self._label(Selection(version)),
                Selection(version),
                expand=expand,
                allow_expand=bool(kids or version.checkpoints),
            )
            self.nodes_by_key[key] = node
            for checkpoint in version.checkpoints:
                selection = Selection(version, checkpoint)
                leaf = node.add_leaf(self._label(selection), selection)
                self.nodes_by_key[selection.key] = leaf
            return node

        # Iterative, depth-first in the given order; a lineage deeper than MAX_DEPTH
        # goes on at that depth (Textual's own tree walk recurses once per level).
        with self.adding_many():
            stack: list[tuple[TreeNode[Selection], Version, int]] = [
                (self.root, v, 1) for v in reversed(roots)
            ]
            while stack:
                parent, version, depth = stack.pop()
                node = add(parent, version)
                kids = children.get(version.id, [])
                below, kid_depth = (node, depth + 1) if depth < MAX_DEPTH else (parent, depth)
                stack.extend((below, kid, kid_depth) for kid in reversed(kids))
        if cursor is not None and cursor in self.nodes_by_key:
            self.select_key(cursor)
        elif self.nodes_by_key:
            tree_line_index(self)
            self.cursor_line = 0

    def _label(self, selection: Selection) -> Text:
        marked = selection.key in self.marked
        if selection.checkpoint is not None:
            checkpoint = selection.checkpoint
            aliases = [a for a, t in selection.version.aliases.items() if t == checkpoint.name]
            return checkpoint_label(checkpoint, marked, aliases, self.palette)
        return version_label(selection.version, marked, self.sort_key, self.palette)

    def relabel(self, versions: list[Version]) -> None:
        """Swap in updated versions (same rows, e.g. losses filled in) without a rebuild."""
        for version in versions:
            node = self.nodes_by_key.get((version.id, None))
            if node is not None:
                node.data = Selection(version)
                node.set_label(self._label(node.data))

    def set_marked(self, marked: list[Key]) -> None:
        """Redraw the labels whose mark changed."""
        changed = set(self.marked) ^ set(marked)
        self.marked = list(marked)
        for key in changed:
            node = self.nodes_by_key.get(key)
            if node is not None and node.data is not None:
                node.set_label(self._label(node.data))

    def select_key(self, key: Key) -> bool:
        """Move the cursor to a row (opening its ancestors); False if it is not shown."""
        node = self.nodes_by_key.get(key)
        if node is None:
            return False
        parent = node.parent
        while parent is not None and not parent.is_root:
            parent.expand()
            parent = parent.parent
        tree_line_index(self)
        self.move_cursor(node)
        return True

    def select_first(self) -> None:
        if self.root.children:
            self.move_cursor(self.root.children[0])

    @property
    def selection(self) -> Selection | None:
        node = self.cursor_node
        return node.data if node is not None else None

    def action_expand(self) -> None:
        if self.cursor_node is not None and self.cursor_node.allow_expand:
            self.cursor_node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.is_expanded and node.allow_expand:
            node.collapse()
        elif node.parent is not None and not node.parent.is_root:
            self.move_cursor(node.parent)
