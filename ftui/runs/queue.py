"""The device queue: one run per device, the others wait their turn, in order.

Runs in one version root share `<root>/.ftui/`:
- `device-all.lock`, `device-<n>.lock`: held (flock) by the process training on a
  device for as long as it lives. A run without `--devices` uses every device: it holds
  `device-all` exclusively; a run on `--devices 0,1` holds `device-all` shared and
  `device-0`, `device-1` exclusively. The kernel releases them when the process ends,
  however it ends (kill -9 included), so a dead run never blocks the queue.
- `queue.json`: the runs waiting, in order (`{"entries": [{version_id, devices, pid,
  start_ticks, host, queued_at}]}`), rewritten atomically under `queue.lock`. A waiting
  run starts when no run ahead of it wants one of its devices and it gets the device
  locks. Entries whose process is gone are dropped. A damaged file is kept aside
  (`queue.json.damaged-<time>`), reported, and the queue starts afresh: it never
  blocks new runs silently.

No daemon: each waiting run is its own process (`ftui train --detach` or a foreground
`ftui train`), so queued runs start in order whether or not the app is open.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ftui.store.fields import as_int, as_str
from ftui.store.jsonio import ReadError, dumps, read_json_object, write_atomic
from ftui.store.liveness import Liveness, check_process, identity, this_host

QUEUE_DIR = ".ftui"
QUEUE_FILE = "queue.json"
POLL_S = 0.5

Notify = Callable[[str], None]


def queue_dir(root: Path) -> Path:
    path = root / QUEUE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _open_lock(path: Path) -> int:
    flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o644)


@contextlib.contextmanager
def _queue_locked(root: Path) -> Iterator[None]:
    fd = _open_lock(queue_dir(root) / "queue.lock")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def conflicts(a: list[int] | None, b: list[int] | None) -> bool:
    """Two runs compete when either uses every device or they share one."""
    return a is None or b is None or bool(set(a) & set(b))


@dataclass
class Lease:
    """The device locks a run holds while it trains (released on close or process end)."""

    fds: list[int] = field(default_factory=list)

    def release(self) -> None:
        for fd in self.fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self.fds.clear()


def try_lease(root: Path, devices: list[int] | None) -> Lease | None:
    """The device locks for `devices`, if free now; None when another run holds one."""
    folder = queue_dir(root)
    wanted: list[tuple[Path, int]] = [
        (folder / "device-all.lock", fcntl.LOCK_EX if devices is None else fcntl.LOCK_SH)
    ]
    wanted += [(folder / f"device-{n}.lock", fcntl.LOCK_EX) for n in sorted(devices or [])]
    lease = Lease()
    for path, mode in wanted:
        fd = _open_lock(path)
        lease.fds.append(fd)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except OSError as exc:
            lease.release()
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            raise
    return lease


class QueueDamaged(Exception):
    """queue.json could not be used; `str()` says why."""


def _parse(record: dict[str, Any]) -> list[dict[str, Any]]:
    entries = record.get("entries")
    if not isinstance(entries, list):
        raise QueueDamaged("no list of entries")
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("version_id"), str):
            raise QueueDamaged("an entry without a version id")
        devices = entry.get("devices")
        if devices is not None and not (
            isinstance(devices, list) and all(isinstance(d, int) for d in devices)
        ):
            raise QueueDamaged(f"entry {entry['version_id'][:60]!r} has unusable devices")
    return entries


def read_entries(root: Path, notify: Notify | None = None) -> list[dict[str, Any]]:
    """The waiting entries, in order. A damaged file is moved aside and reported (call
    with the queue lock held)."""
    path = root / QUEUE_DIR / QUEUE_FILE
    try:
        return _parse(read_json_object(path, limit=4 * 1024 * 1024))
    except ReadError as exc:
        if str(exc) == "missing":
            return []
        reason = str(exc)
    except QueueDamaged as exc:
        reason = str(exc)
    aside = path.with_name(f"{QUEUE_FILE}.damaged-{datetime.now():%Y%m%d_%H%M%S_%f}")
    with contextlib.suppress(OSError):
        os.rename(path, aside)
    if notify is not None:
        notify(
            f"the queue file {path} was damaged ({reason}); kept as {aside.name}, "
            "starting a fresh queue"
        )
    return []


def _write(root: Path, entries: list[dict[str, Any]]) -> None:
    write_atomic(root / QUEUE_DIR / QUEUE_FILE, dumps({"entries": entries}))


def _alive(entry: dict[str, Any]) -> bool:
    """A waiting entry's process is alive (entries of another host are kept)."""
    if as_str(entry.get("host")) not in (None, this_host()):
        return True
    return check_process(entry) in (Liveness.ALIVE, Liveness.UNKNOWN)


def positions(entries: list[dict[str, Any]], version_id: str) -> tuple[int, int]:
    """(position in the whole queue, runs ahead that want one of its devices)."""
    mine = next((e for e in entries if e["version_id"] == version_id), None)
    if mine is None:
        return 0, 0
    index = entries.index(mine)
    ahead = [e for e in entries[:index] if conflicts(e.get("devices"), mine.get("devices"))]
    return index + 1, len(ahead)


def wait_turn(
    root: Path,
    version_id: str,
    devices: list[int] | None,
    stop: threading.Event,
    on_position: Callable[[int], None] | None = None,
    notify: Notify | None = None,
) -> Lease | None:
    """Block until this run may use its devices (its Lease) or `stop` is set (None; the
    run has left the queue). Free devices and an empty queue: returns at once."""
    me = {**identity(), "version_id": version_id, "devices": devices}
    me["queued_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    shown = -1
    while True:
        with _queue_locked(root):
            entries = [e for e in read_entries(root, notify) if _alive(e)]
            if not any(e["version_id"] == version_id for e in entries):
                entries.append(me)
            position, ahead = positions(entries, version_id)
            lease = try_lease(root, devices) if ahead == 0 else None
            if lease is not None or stop.is_set():
                entries = [e for e in entries if e["version_id"] != version_id]
            _write(root, entries)
        if lease is not None:
            return lease
        if stop.is_set():
            return None
        if position != shown and on_position is not None:
            on_position(position)
        shown = position
        stop.wait(POLL_S)


def waiting(root: Path) -> list[dict[str, Any]]:
    """The queue as it is (for displays); a damaged file reads as empty, unchanged."""
    try:
        return _parse(read_json_object(root / QUEUE_DIR / QUEUE_FILE, limit=4 * 1024 * 1024))
    except (ReadError, QueueDamaged):
        return []


def entry_pid(entry: dict[str, Any]) -> int | None:
    return as_int(entry.get("pid"))
