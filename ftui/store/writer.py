"""Writing versions: claim a new id, create and update its metadata, never overwrite.

A version is `<root>/<id>/` (weights, checkpoints, logs) plus `<root>/metadata_<id>.json`
beside it: the tutorial script's layout, so old and new versions are one format.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from .jsonio import ReadError, dumps, read_json_object, write_atomic

SCHEMA_VERSION = 1
METADATA_PREFIX = "metadata_"


class WriteError(Exception):
    """A version could not be written; `str()` is a one-line reason."""


def metadata_path(root: Path, version_id: str) -> Path:
    """Where the metadata of `version_id` lives: beside its folder, as the tutorial had it."""
    return root / f"{METADATA_PREFIX}{version_id}.json"


def base_version_id(now: datetime | None = None) -> str:
    """`v_<YYYYmmdd_HHMMSS>`: the tutorial's id for a run started at `now`."""
    return f"v_{(now or datetime.now()):%Y%m%d_%H%M%S}"


def claim_version(root: Path, now: datetime | None = None) -> tuple[str, Path]:
    """Create a new, empty version folder and return (id, folder).

    The folder is claimed with `mkdir`, which is exclusive: two runs started in the same
    second get `v_<ts>` and `v_<ts>_2`. An id whose metadata file survives (a deleted
    folder) is skipped, so no metadata is ever overwritten.
    """
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"{root}: cannot create the version root ({exc.strerror})") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise WriteError(f"{root}: the version root is not writable")
    base = base_version_id(now)
    for n in range(1, 100_000):
        version_id = base if n == 1 else f"{base}_{n}"
        if os.path.lexists(metadata_path(root, version_id)):
            continue
        try:
            os.mkdir(root / version_id)
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"{root / version_id}: cannot create ({exc.strerror})") from None
        return version_id, root / version_id
    raise WriteError(f"{root}: no free version id for {base}")


def create_metadata(root: Path, version_id: str, metadata: Mapping[str, Any]) -> Path:
    """Write the first metadata of a claimed version; fails if the file already exists.

    Written to a temporary file and then hard-linked into place: atomic and exclusive.
    """
    import tempfile  # only writers need it; keeps read-only imports light

    path = metadata_path(root, version_id)
    record = {"schema_version": SCHEMA_VERSION, "version_id": version_id, **metadata}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=root)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(dumps(record))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.link(tmp_name, path)
    except FileExistsError:
        raise WriteError(f"{path.name}: already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise WriteError(f"{path.name}: cannot write ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
    return path


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise read-modify-write cycles on one metadata file across processes.

    The lock file is opened without following links (a planted link would make us
    create its target, anywhere) and must be a regular file.
    """
    lock_path = path.with_name(f".{path.name}.lock")
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(lock_path, flags, 0o644)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            reason = "is a symbolic link; refusing to follow it"
            raise WriteError(f"{lock_path.name} {reason}") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise WriteError(f"{lock_path.name} is not a regular file; refusing to use it")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


locked_file = _locked  # public name for other read-modify-write files (aliases.json)


def update_metadata(
    path: Path, change: Mapping[str, Any] | Callable[[dict[str, Any]], None]
) -> dict[str, Any]:
    """Apply `change` to the metadata at `path` atomically and return the new record.

    `change` is a mapping of top-level keys to set, or a function that edits the record
    in place. Keys the change does not name (including ones this version of ftui does not
    know) are kept as they were.
    """
    if os.path.islink(path):
        raise WriteError(f"{path.name} is a symbolic link; not rewriting it")
    try:
        with _locked(path):
            try:
                record = read_json_object(path)
            except ReadError as exc:
                if str(exc) != "missing":
                    raise WriteError(f"{path.name}: {exc}; not rewriting it") from None
                record = {}
            if callable(change):
                change(record)
            else:
                record.update(change)
            write_atomic(path, dumps(record))
    except OSError as exc:
        raise WriteError(f"{path.name}: cannot write ({exc.strerror})") from None
    return record


def set_tags(path: Path, tags: list[str]) -> dict[str, Any]:
    """Replace the tags of a version (deduplicated, order kept, blanks dropped)."""
    clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    return update_metadata(path, {"tags": clean})


def set_notes(path: Path, notes: str) -> dict[str, Any]:
    return update_metadata(path, {"notes": notes})


def set_status(path: Path, status: str, **extra: Any) -> dict[str, Any]:
    return update_metadata(path, {"status": status, **extra})
