"""Files of a version on disk: listing, sizes, and deletion (folder + metadata, nothing else)."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from .model import Checkpoint, Version

MAX_LISTED_FILES = 10_000  # a folder with more is summarised, not listed


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the version folder
    size: int


def walk_files(folder: Path, limit: int = MAX_LISTED_FILES) -> tuple[list[FileEntry], int]:
    """Regular files under `folder` (links not followed) and their total size in bytes.

    Listing stops after `limit` entries, but the total still counts everything.
    """
    entries: list[FileEntry] = []
    total = 0
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            iterator = os.scandir(current)
        except OSError:
            continue
        with iterator:
            for entry in iterator:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        size = entry.stat(follow_symlinks=False).st_size
                        total += size
                        if len(entries) < limit:
                            entries.append(FileEntry(os.path.relpath(entry.path, folder), size))
                except OSError:
                    continue
    entries.sort(key=lambda e: e.path)
    return entries, total


def version_size(version: Version) -> int:
    """Bytes on disk: the version folder and its metadata file."""
    total = walk_files(version.path, limit=0)[1]
    if version.metadata_path is not None:
        with contextlib.suppress(OSError):
            total += version.metadata_path.stat().st_size
    return total


def removal_plan(version: Version, checkpoint: Checkpoint | None = None) -> tuple[list[Path], int]:
    """What deleting would remove (paths) and how many bytes it frees."""
    if checkpoint is not None:
        return [checkpoint.path], walk_files(checkpoint.path, limit=0)[1]
    paths = [version.path]
    if version.metadata_path is not None and version.metadata_path.exists():
        paths.append(version.metadata_path)
    return paths, version_size(version)


def delete(version: Version, checkpoint: Checkpoint | None = None) -> int:
    """Remove a version (its folder and metadata file) or one checkpoint; return bytes freed.

    Only paths inside the version's own folder, or its own metadata file, are touched.
    """
    paths, freed = removal_plan(version, checkpoint)
    for path in paths:
        if path.is_symlink() or path.is_file():
            path.unlink(missing_ok=True)
        elif path.is_dir():
            shutil.rmtree(path)
    if checkpoint is None and version.metadata_path is not None:
        lock = version.metadata_path.with_name(f".{version.metadata_path.name}.lock")
        lock.unlink(missing_ok=True)
    return freed


def human_size(size: float) -> str:
    """`1.5 MB`-style sizes (powers of 1024, the way `du -h` counts)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
