"""Checkpoint manifests: the size and sha256 of every file of a checkpoint ftui saved.

A run records the manifest of each `checkpoint-<step>/` in its metadata
(`checkpoint_files`) once the Trainer has finished writing it. That record is what makes
a checkpoint complete: a folder caught half-written (the process killed during a save)
has no manifest, and a checkpoint whose files differ from theirs is not the one ftui
wrote. Resuming loads pickles (optimizer, scheduler, RNG state), so it refuses anything
whose digests do not match, before a single byte of it is unpickled.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MANIFEST_KEY = "checkpoint_files"  # metadata: {checkpoint name: {file: {size, sha256}}}
_CHUNK = 1024 * 1024


def _regular_files(folder: Path) -> list[str]:
    """Names of the regular files in `folder`, recursively (relative, `/`-separated);
    links and special files are never followed or read."""
    found: list[str] = []
    pending = [""]
    while pending:
        relative = pending.pop()
        with os.scandir(folder / relative if relative else folder) as entries:
            for entry in entries:
                name = f"{relative}/{entry.name}" if relative else entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append(name)
                elif entry.is_file(follow_symlinks=False):
                    found.append(name)
    return sorted(found)


def file_sha256(path: Path) -> str:
    import hashlib  # here, not at the top: a scan never hashes (first paint is timed)

    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """`{file: {"size": n, "sha256": hex}}` for every regular file under `folder`."""
    result: dict[str, dict[str, Any]] = {}
    for name in _regular_files(folder):
        path = folder / name
        result[name] = {"size": path.stat().st_size, "sha256": file_sha256(path)}
    return result


def _recorded(entry: object) -> dict[str, tuple[int, str]] | None:
    """A recorded manifest as {file: (size, sha256)}, or None when it is malformed."""
    if not isinstance(entry, Mapping) or not entry:
        return None
    files: dict[str, tuple[int, str]] = {}
    for name, info in entry.items():
        if not isinstance(name, str) or not isinstance(info, Mapping):
            return None
        size, digest = info.get("size"), info.get("sha256")
        if not isinstance(size, int) or not isinstance(digest, str):
            return None
        if name.startswith("/") or ".." in name.split("/"):
            return None
        files[name] = (size, digest)
    return files


def quick_problem(folder: Path, entry: object) -> str | None:
    """Cheap check (names and sizes, no hashing) of a checkpoint against its manifest:
    what a scan can afford. None when it looks complete."""
    files = _recorded(entry)
    if files is None:
        return "not recorded as completely saved (the run stopped while writing it?)"
    for name, (size, _digest) in files.items():
        try:
            info = os.lstat(folder / name)
        except OSError:
            return f"{name} is missing"
        if not stat.S_ISREG(info.st_mode) or info.st_size != size:
            return f"{name} differs from what was saved ({info.st_size} bytes, not {size})"
    return None


def verify(folder: Path, entry: object) -> str | None:
    """Full check: every recorded file is there with its size and sha256, and no file
    was added. None when the checkpoint is exactly what ftui saved; else the reason."""
    files = _recorded(entry)
    if files is None:
        return "no digests were recorded for it: ftui did not save it completely"
    try:
        present = set(_regular_files(folder))
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    extra = sorted(present - set(files))
    if extra:
        return f"{extra[0]} was not part of the checkpoint ftui saved"
    quick = quick_problem(folder, entry)
    if quick is not None:
        return quick
    for name, (_size, digest) in files.items():
        try:
            actual = file_sha256(folder / name)
        except OSError as exc:
            return f"{name}: unreadable ({exc.strerror or exc})"
        if actual != digest:
            return f"{name}: sha256 differs from the one recorded when it was saved"
    return None
