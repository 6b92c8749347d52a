"""What each version holds on disk, broken down by kind, and the root's total.

Sizes count the way `du -sb` does (apparent sizes, every file, folder and link entry
once, hard links once), so `ftui du` and the status line agree with it. Links are
counted as links and never followed: a version folder that is a link to elsewhere
costs only the link. Walking never raises: unreadable entries are skipped.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .model import Version

KINDS: tuple[str, ...] = ("adapter", "checkpoints", "state", "logs", "other")
KIND_TITLES: dict[str, str] = {
    "adapter": "final adapter",
    "checkpoints": "checkpoints",
    "state": "optimizer/scheduler/RNG state",
    "logs": "logs",
    "other": "other",
}

_CHECKPOINT = re.compile(r"^checkpoint-\d+$")
# What the Trainer saves beside a checkpoint's adapter so that training can resume.
_STATE = re.compile(
    r"^(optimizer|scheduler|scaler)(\.\w+)?\.(pt|bin|pth)$|^rng_state(_\d+)?\.pth$"
    r"|^(optimizer|scheduler)\.safetensors$|^global_step\d+$"
)
_ADAPTER = re.compile(r"^adapter_model\.(safetensors|bin)$|^adapter_config\.json$")
_LOGS = re.compile(r"^events\.jsonl$|^trainer_state\.json$|.*\.log$|^runs$|^logs?$")


def is_state_file(name: str) -> bool:
    """True for the optimizer, scheduler, scaler and RNG state a checkpoint keeps for resume
    (not needed to load or compare the adapter)."""
    return bool(_STATE.match(name))


@dataclass(slots=True)
class SizeBreakdown:
    """Bytes of one version (or of anything else in the root), by kind."""

    adapter: int = 0  # the final adapter's weights and config
    checkpoints: int = 0  # checkpoint folders, less their optimizer/RNG state
    state: int = 0  # optimizer, scheduler, scaler and RNG state (resume only)
    logs: int = 0  # events.jsonl, trainer_state.json, *.log, runs/
    other: int = 0  # metadata, tokenizer files, folders' own entries, anything else
    files: int = 0  # number of entries counted
    checkpoint_sizes: dict[str, int] = field(default_factory=dict)  # name -> whole size

    @property
    def total(self) -> int:
        return self.adapter + self.checkpoints + self.state + self.logs + self.other

    def add(self, kind: str, size: int) -> None:
        setattr(self, kind, getattr(self, kind) + size)
        self.files += 1

    def as_json(self) -> dict[str, object]:
        return {
            **{kind: getattr(self, kind) for kind in KINDS},
            "total": self.total,
            "checkpoint_sizes": dict(self.checkpoint_sizes),
        }


@dataclass(frozen=True, slots=True)
class RootSizes:
    """Every version's breakdown, what else lies in the root, and the total."""

    root: Path
    versions: dict[str, SizeBreakdown]
    outside_versions: int  # the root's own entry, aliases, stray files
    complete: bool = True  # False when stopped early

    @property
    def total(self) -> int:
        return self.outside_versions + sum(b.total for b in self.versions.values())

    def by_kind(self) -> SizeBreakdown:
        total = SizeBreakdown()
        for breakdown in self.versions.values():
            for kind in KINDS:
                setattr(total, kind, getattr(total, kind) + getattr(breakdown, kind))
        total.other += self.outside_versions
        return total


class _Seen:
    """Hard links are counted once, as `du` does (across the whole walk)."""

    def __init__(self) -> None:
        self.inodes: set[tuple[int, int]] = set()

    def first(self, st: os.stat_result) -> bool:
        if st.st_nlink < 2 or stat.S_ISDIR(st.st_mode):
            return True
        key = (st.st_dev, st.st_ino)
        if key in self.inodes:
            return False
        self.inodes.add(key)
        return True


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except OSError:
        return None


def _walk(top: str, seen: _Seen) -> Iterator[tuple[str, int, bool]]:
    """(path relative to `top`, size, is_dir) for `top`'s entries below it (not `top`),
    never following links, skipping what cannot be read."""
    stack = [top]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as iterator:
                entries = list(iterator)
        except OSError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if not seen.first(st):
                continue
            is_dir = stat.S_ISDIR(st.st_mode)
            if is_dir:
                stack.append(entry.path)
            yield os.path.relpath(entry.path, top), st.st_size, is_dir


def _kind_of(relative: str, is_dir: bool) -> str:
    """Which kind a path inside a version folder belongs to."""
    parts = relative.split(os.sep)
    name = parts[-1]
    if _CHECKPOINT.match(parts[0]) and len(parts) > 1:
        if is_state_file(name) or any(is_state_file(p) for p in parts[1:-1]):
            return "state"
        return "checkpoints"
    if is_dir and len(parts) == 1 and _CHECKPOINT.match(name):
        return "checkpoints"
    if is_state_file(parts[0]):
        return "state"
    if len(parts) == 1 and _ADAPTER.match(name):
        return "adapter"
    if _LOGS.match(parts[0]):
        return "logs"
    return "other"


def version_breakdown(
    version: Version, seen: _Seen | None = None, stop: threading.Event | None = None
) -> SizeBreakdown:
    """The bytes of one version: its folder (links not followed) and its metadata file."""
    seen = seen or _Seen()
    result = SizeBreakdown()
    for path in dict.fromkeys((version.metadata_path, version.path)):
        if path is None:
            continue
        st = _lstat(str(path))
        if st is None or not seen.first(st):
            continue
        result.add("other", st.st_size)
        if path == version.metadata_path or not stat.S_ISDIR(st.st_mode):
            continue
        for relative, size, is_dir in _walk(str(path), seen):
            if stop is not None and stop.is_set():
                return result
            kind = _kind_of(relative, is_dir)
            result.add(kind, size)
            top = relative.split(os.sep, 1)[0]
            if _CHECKPOINT.match(top):
                result.checkpoint_sizes[top] = result.checkpoint_sizes.get(top, 0) + size
    return result


def root_sizes(
    root: Path, versions: Iterable[Version], stop: threading.Event | None = None
) -> RootSizes:
    """Sizes of every version under `root` and of the rest of the root: together the
    same total as `du -sb root`."""
    seen = _Seen()
    by_id: dict[str, SizeBreakdown] = {}
    owned: set[str] = set()
    root_real = os.path.realpath(root)
    for version in versions:
        if stop is not None and stop.is_set():
            return RootSizes(root, by_id, 0, complete=False)
        if os.path.realpath(version.path) == root_real:
            owned.add(".")  # a Trainer folder given as the root: the whole root is it
        for path in (version.path, version.metadata_path):
            if path is not None and os.path.dirname(os.path.abspath(path)) == os.path.abspath(root):
                owned.add(path.name)
        by_id[version.id] = version_breakdown(version, seen, stop)
    outside = 0
    if "." not in owned:
        st = _lstat(str(root))
        if st is not None:
            outside += st.st_size
        try:
            with os.scandir(root) as iterator:
                entries = [e for e in iterator if e.name not in owned]
        except OSError:
            entries = []
        for entry in entries:
            st = _lstat(entry.path)
            if st is None or not seen.first(st):
                continue
            outside += st.st_size
            if stat.S_ISDIR(st.st_mode):
                outside += sum(size for _, size, _ in _walk(entry.path, seen))
    return RootSizes(root, by_id, outside)


def tree_bytes(path: Path | str) -> int:
    """What `du -sb path` counts: the entry itself and, for a real folder, everything
    below it (links as links, hard links once)."""
    st = _lstat(str(path))
    if st is None:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size
    return st.st_size + sum(size for _, size, _ in _walk(str(path), _Seen()))
