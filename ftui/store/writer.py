"""Writing versions: claim a new id, create and update its metadata, never overwrite.

A version is `<root>/v_<id>/` (weights, checkpoints, logs) plus `<root>/metadata_<id>.json`
beside it, with `version_id` `<id>` = `<YYYYmmdd_HHMMSS>`: the tutorial script's layout,
byte for byte, so the tutorial's code and ftui read each other's versions.
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
from .model import Status
from .naming import PREFIX, folder_candidates, folder_name, metadata_file

SCHEMA_VERSION = 1


class WriteError(Exception):
    """A version could not be written; `str()` is a one-line reason."""


def metadata_path(root: Path, version_id: str) -> Path:
    """Where the metadata of `version_id` lives: beside its folder, as the tutorial had it."""
    return metadata_file(root, version_id)


def base_version_id(now: datetime | None = None) -> str:
    """`<YYYYmmdd_HHMMSS>`: the tutorial's `version_id` for a run started at `now`."""
    return f"{(now or datetime.now()):%Y%m%d_%H%M%S}"


def _taken(root: Path, version_id: str) -> bool:
    """True when anything on disk already answers to `version_id`: its metadata in either
    naming (`metadata_<id>.json`, `metadata_v_<id>.json`) or a folder it could pair with."""
    names = [metadata_file(root, version_id).name, metadata_file(root, PREFIX + version_id).name]
    names += folder_candidates(version_id)
    return any(os.path.lexists(root / name) for name in names)


def claim_version(root: Path, now: datetime | None = None) -> tuple[str, Path]:
    """Create a new, empty version folder and return (id, folder): (`<ts>`, `root/v_<ts>`).

    The folder is claimed with `mkdir`, which is exclusive: two runs started in the same
    second get `<ts>` and `<ts>_2`. An id with any trace left on disk (a metadata file
    whose folder was deleted, in either naming) is skipped, so nothing is overwritten.
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
        if _taken(root, version_id):
            continue
        folder = root / folder_name(version_id)
        try:
            os.mkdir(folder)
        except FileExistsError:
            continue
        except OSError as exc:
            raise WriteError(f"{folder}: cannot create ({exc.strerror})") from None
        return version_id, folder
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


def set_status(path: Path, status: Status, **extra: Any) -> dict[str, Any]:
    return update_metadata(path, {"status": status, **extra})
