"""Files of a version on disk: listing, sizes, and deletion (folder + metadata, nothing else).

Every destructive or sizing operation is contained: targets are resolved against the
root and anything that is not strictly inside it is refused (`Refused`, with a one-line
reason); symbolic links are never followed, a link is removed as a link.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from .ids import id_problem
from .model import Checkpoint, Version

MAX_LISTED_FILES = 10_000  # a folder with more is summarised, not listed
_CHECKPOINT_NAME = re.compile(r"^checkpoint-\d+$")
_METADATA_NAME = re.compile(r"^metadata_.+\.json$", re.S)


class Refused(Exception):
    """A removal or write was refused because it would reach outside the root;
    `str()` is a one-line reason."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the version folder
    size: int


def walk_files(folder: Path, limit: int = MAX_LISTED_FILES) -> tuple[list[FileEntry], int]:
    """Regular files under `folder` (links not followed) and their total size in bytes.

    Listing stops after `limit` entries, but the total still counts everything. A
    `folder` that is itself a link (or not a folder) is not walked into: nothing is
    listed. Unreadable subfolders are skipped, never raised.
    """
    entries: list[FileEntry] = []
    total = 0
    try:
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            return entries, total
    except OSError:
        return entries, total
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as iterator:
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
        except OSError:  # unreadable, vanished, or failed mid-listing (/proc and friends)
            continue
    entries.sort(key=lambda e: e.path)
    return entries, total


def version_size(version: Version) -> int:
    """Bytes on disk: the version folder and its metadata file."""
    total = walk_files(version.path, limit=0)[1]
    if version.metadata_path is not None:
        with contextlib.suppress(OSError):
            total += os.lstat(version.metadata_path).st_size
    return total


def version_root(version: Version) -> Path:
    """The root a version was scanned from (pass the real root where it is known)."""
    return (version.metadata_path or version.path).parent


def _inside(path: Path, root_real: str, what: str) -> None:
    """Refuse unless `path` lies directly in a folder that resolves inside the root."""
    parent = os.path.realpath(path.parent)
    if parent != root_real and not parent.startswith(root_real.rstrip(os.sep) + os.sep):
        raise Refused(f"{what} {path} is outside the root {root_real}")
    if path.name in ("", ".", ".."):
        raise Refused(f"{what} {path} does not name an entry inside the root")


def _kind(path: Path) -> str | None:
    """`dir`, `link`, `file` (anything else removable by unlink) or None when absent."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "file"


def removal_targets(
    version: Version, checkpoint: Checkpoint | None = None, root: Path | None = None
) -> list[Path]:
    """What deleting would remove, after checking each path lies inside `root`.

    Raises `Refused` for a version whose id is not a usable path component, a folder
    that is not directly in the root (or is the root), a checkpoint inside a linked
    version folder, or a metadata file that is not the version's own.
    """
    root_path = Path(root) if root is not None else version_root(version)
    root_real = os.path.realpath(root_path)
    problem = id_problem(version.id)
    if problem is not None:
        raise Refused(f"{version.id!r} is not a usable version id ({problem}): not deleted")
    named = checkpoint.name if checkpoint is not None else None
    aliases = sorted(a for a, t in version.aliases.items() if named is None or t == named)
    if aliases:
        what = f"{version.id}:{named}" if named else version.id
        raise Refused(
            f"{what} is aliased as {', '.join(aliases)}: remove the alias first "
            f"(ftui alias --rm {aliases[0]})"
        )
    folder = version.path
    if id_problem(folder.name) is not None or os.path.realpath(folder.parent) != root_real:
        raise Refused(f"{folder} is not a folder directly inside the root {root_real}")
    if checkpoint is not None:
        if _kind(folder) != "dir":
            raise Refused(
                f"{version.id}/ is not a real folder inside the root (a link?): its"
                " checkpoints lie elsewhere and are not deleted"
            )
        if checkpoint.path.parent != folder or not _CHECKPOINT_NAME.match(checkpoint.path.name):
            raise Refused(f"{checkpoint.path} is not a checkpoint folder of {version.id}")
        _inside(checkpoint.path, root_real, "checkpoint")
        return [checkpoint.path] if _kind(checkpoint.path) is not None else []
    paths = [folder] if _kind(folder) is not None else []
    meta = version.metadata_path
    if meta is not None and _kind(meta) is not None:
        if not _METADATA_NAME.match(meta.name) or os.path.realpath(meta.parent) != root_real:
            raise Refused(f"{meta} is not a metadata file directly inside the root")
        paths.append(meta)
    return paths


def removal_plan(
    version: Version, checkpoint: Checkpoint | None = None, root: Path | None = None
) -> tuple[list[Path], int]:
    """What deleting would remove (paths) and how many bytes it frees.

    A link is counted (and removed) as a link, never followed. Raises `Refused`.
    Walks the folder: call it from a worker, not a UI thread.
    """
    paths = removal_targets(version, checkpoint, root)
    total = 0
    for path in paths:
        if _kind(path) == "dir":
            total += walk_files(path, limit=0)[1]
        else:
            with contextlib.suppress(OSError):
                total += os.lstat(path).st_size
    return paths, total


def delete(version: Version, checkpoint: Checkpoint | None = None, root: Path | None = None) -> int:
    """Remove a version (its folder and metadata file) or one checkpoint; return bytes freed.

    Only paths inside the root are touched (see `removal_targets`); links are unlinked,
    never followed. Raises `Refused` or `OSError`.
    """
    paths, freed = removal_plan(version, checkpoint, root)
    for path in paths:
        kind = _kind(path)  # again, just before removing: it may have changed
        if kind == "dir":
            shutil.rmtree(path)  # never follows links inside (fd-based on Linux)
        elif kind is not None:
            path.unlink(missing_ok=True)
    if checkpoint is None and version.metadata_path is not None:
        lock = version.metadata_path.with_name(f".{version.metadata_path.name}.lock")
        if _kind(lock) is not None:
            lock.unlink(missing_ok=True)  # a link is removed as a link
    return freed


def human_size(size: float) -> str:
    """`1.5 MB`-style sizes (powers of 1024, the way `du -h` counts)."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


# -- pruning: parts of a version, each step leaving the version readable -----------------

TRASH_PREFIX = ".ftui-pruning-"  # a checkpoint renamed out of sight before it is removed


def _real_version_folder(version: Version, root: Path | None) -> Path:
    """The version's folder after the same checks as deleting a checkpoint of it."""
    root_path = Path(root) if root is not None else version_root(version)
    root_real = os.path.realpath(root_path)
    problem = id_problem(version.id)
    if problem is not None:
        raise Refused(f"{version.id!r} is not a usable version id ({problem})")
    folder = version.path
    if _kind(folder) == "link":
        target = os.readlink(folder)
        raise Refused(f"{folder.name}/ is a symbolic link to {target}: not followed, not pruned")
    if _kind(folder) != "dir":
        raise Refused(f"{folder} is not a folder")
    if os.path.realpath(folder.parent) != root_real and os.path.realpath(folder) != root_real:
        raise Refused(f"{folder} is not a folder directly inside the root {root_real}")
    return folder


def trash_checkpoint(version: Version, checkpoint: Checkpoint, root: Path | None = None) -> Path:
    """Rename a checkpoint folder to a hidden name inside its version (one atomic step:
    the version never shows a half-deleted checkpoint) and return the new path."""
    folder = _real_version_folder(version, root)
    path = checkpoint.path
    if path.parent != folder or not _CHECKPOINT_NAME.match(path.name) or _kind(path) != "dir":
        raise Refused(f"{path} is not a checkpoint folder of {version.id}")
    trash = folder / f"{TRASH_PREFIX}{path.name}"
    if _kind(trash) is not None:
        purge_trash(version, root)
    os.rename(path, trash)
    return trash


def purge_trash(version: Version, root: Path | None = None) -> int:
    """Remove what an earlier (maybe interrupted) prune renamed out of sight; bytes freed."""
    from .sizes import tree_bytes  # (here: the app's first frame imports this module)

    folder = _real_version_folder(version, root)
    freed = 0
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TRASH_PREFIX)]
    except OSError:
        return 0
    for name in names:
        path = folder / name
        kind = _kind(path)
        if kind == "dir":
            freed += tree_bytes(path)
            shutil.rmtree(path)
        elif kind is not None:
            freed += tree_bytes(path)
            path.unlink(missing_ok=True)
    return freed


def remove_checkpoint_files(
    version: Version, checkpoint: Checkpoint, names: list[str], root: Path | None = None
) -> int:
    """Unlink files directly inside one checkpoint (e.g. optimizer state); bytes freed.

    Each name must be a plain file name; a link is removed as a link. Raises `Refused`.
    """
    from .sizes import tree_bytes

    folder = _real_version_folder(version, root)
    path = checkpoint.path
    if path.parent != folder or not _CHECKPOINT_NAME.match(path.name) or _kind(path) != "dir":
        raise Refused(f"{path} is not a checkpoint folder of {version.id}")
    freed = 0
    for name in names:
        if name in ("", ".", "..") or os.sep in name:
            raise Refused(f"{name!r} is not a file name inside {path.name}")
        target = path / name
        kind = _kind(target)
        if kind == "dir":
            freed += tree_bytes(target)
            shutil.rmtree(target)  # DeepSpeed's global_stepN/ state folder
        elif kind is not None:
            freed += tree_bytes(target)
            target.unlink(missing_ok=True)
    return freed
