"""Lineage of versions: which parents are missing, and which chains loop.

Parents come from untrusted metadata: a version may name itself, or two may name each
other. One linear pass (each version's chain is walked once, states are remembered)
finds every loop, so the tree and `--check` stay fast on thousands of chained versions.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass, field

from .model import Version
from .naming import name_variants

_OK, _LOOPS = 1, 2


@dataclass(frozen=True)
class Lineage:
    """`cycles`: id -> the loop it is on (in parent order, starting with that id);
    `looping`: ids on a loop or whose parent chain runs into one;
    `missing`: id -> its parent's id, for parents not among the versions."""

    cycles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    looping: frozenset[str] = frozenset()
    missing: dict[str, str] = field(default_factory=dict)


def parent_id(version: Version) -> str | None:
    return version.parent.version_id if version.parent is not None else None


def parent_among(version: Version, ids: Container[str]) -> str | None:
    """The id among `ids` that `version`'s recorded parent names, since `v_<stamp>` and
    `<stamp>` name one version (the recorded id when none is there; None: no parent)."""
    parent = parent_id(version)
    if parent is None or parent in ids:
        return parent
    return next((name for name in name_variants(parent) if name in ids), parent)


def analyse(versions: Iterable[Version]) -> Lineage:
    """Loops and missing parents among `versions` (O(n))."""
    listed = list(versions)
    ids = {version.id for version in listed}
    parent_of = {version.id: parent_among(version, ids) for version in listed}
    state: dict[str, int] = {}
    cycles: dict[str, tuple[str, ...]] = {}
    missing: dict[str, str] = {}
    for start in parent_of:
        if start in state:
            continue
        path: list[str] = []
        position: dict[str, int] = {}
        current: str | None = start
        outcome = _OK
        while current is not None and current in parent_of:
            if current in position:  # back on this walk's own path: a loop
                loop = path[position[current] :]
                for i, member in enumerate(loop):
                    cycles[member] = tuple(loop[i:] + loop[:i])
                outcome = _LOOPS
                break
            if current in state:
                outcome = state[current]
                break
            position[current] = len(path)
            path.append(current)
            current = parent_of[current]
        else:
            if current is not None and path:  # the chain ends at a parent we do not have
                missing[path[-1]] = current
        for member in path:
            state[member] = outcome
    looping = frozenset(k for k, v in state.items() if v == _LOOPS)
    return Lineage(cycles, looping, missing)
