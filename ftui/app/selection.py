"""What a tree row points at, and how versions nest into a forest."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ftui.store import Checkpoint, Version
from ftui.store.lineage import analyse, parent_among

Key = tuple[str, str | None]


@dataclass(frozen=True)
class Selection:
    """A version, or one of its checkpoints."""

    version: Version
    checkpoint: Checkpoint | None = None

    @property
    def key(self) -> Key:
        return (self.version.id, self.checkpoint.name if self.checkpoint else None)

    @property
    def label(self) -> str:
        if self.checkpoint is None:
            return self.version.id
        return f"{self.version.id}/{self.checkpoint.name}"


def build_forest(versions: Iterable[Version]) -> tuple[list[Version], dict[str, list[Version]]]:
    """Top-level versions and the children of each version id, keeping the given order.

    A version nests under its parent when the parent is in the list; a lineage loop
    (a file claiming its own descendant as parent) puts its members at the top level.
    Linear in the number of versions.
    """
    ordered = list(versions)
    by_id = {v.id: v for v in ordered}
    looping = analyse(ordered).looping
    roots: list[Version] = []
    children: dict[str, list[Version]] = {}
    for version in ordered:
        parent_id = parent_among(version, by_id)
        if parent_id is None or parent_id not in by_id or version.id in looping:
            roots.append(version)
        else:
            children.setdefault(parent_id, []).append(version)
    return roots, children
