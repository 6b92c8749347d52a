"""Finding a version by name and stopping its run, safely.

A signal goes to the recorded pid only when the host is this one, and the process with
that pid started when the run's did (`run.start_ticks`): a recycled pid is never
signalled. Where Linux offers it, the process is pinned with a pidfd between that check
and the signal, so the check cannot go stale.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from ftui.store.fields import as_dict, as_int, as_str
from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.liveness import Liveness, check_process, is_stopped, this_host
from ftui.store.model import Status, Version
from ftui.store.naming import UnknownVersion, resolve_version
from ftui.store.scanner import RootError, scan

DEFAULT_ROOT = "model_versions"
REMOVED: Final = "removed"  # `wait_for_end`: a queued run left the queue and deleted its version


class Refused(Exception):
    """The request cannot be carried out; `str()` is one line saying why."""


def find(root: Path, name: str) -> Version:
    """The version `name` means (id with or without v_, alias); raises Refused."""
    try:
        resolved = resolve_version(scan(root), name, _aliases(root))
    except (RootError, UnknownVersion) as exc:
        raise Refused(str(exc)) from None
    if resolved.checkpoint is not None:
        raise Refused(f"{name}: names a checkpoint; give the version ({resolved.version.id})")
    return resolved.version


def _aliases(root: Path) -> dict[str, str] | None:
    """Aliases, once the store records them (`ftui.store.aliases`); None before that."""
    import importlib

    try:
        module = importlib.import_module("ftui.store.aliases")
    except ImportError:
        return None
    load: Callable[[Path], dict[str, str]] | None = getattr(module, "load_aliases", None)
    if load is None:
        return None
    with contextlib.suppress(Exception):
        return dict(load(root))
    return None


def read_record(version: Version) -> dict[str, Any]:
    """The version's metadata as it is on disk now (the scan may be a moment old)."""
    if version.metadata_path is None:
        raise Refused(f"{version.id} has no ftui metadata: it was not started by ftui")
    try:
        return read_json_object(version.metadata_path)
    except ReadError as exc:
        raise Refused(f"{version.metadata_path.name}: {exc}") from None


@dataclass(frozen=True)
class Target:
    """The live process of a run, checked: this host, the same start time."""

    version_id: str
    pid: int
    status: Status  # RUNNING or QUEUED
    launch: str | None


def live_target(version: Version, record: dict[str, Any]) -> Target:
    """The process to signal for `version`, or Refused naming why there is none."""
    status = Status.parse(record.get("status"))
    if status is None or not status.live:
        raise Refused(f"{version.id} is not running (it is {status or 'unknown'})")
    run = as_dict(record.get("run"))
    pid = as_int(run.get("pid"))
    host = as_str(run.get("host"))
    state = check_process(run)
    if state is Liveness.ELSEWHERE:
        raise Refused(
            f"{version.id} runs on host {host}, not on this one ({this_host()}): cancel it there"
        )
    if state is Liveness.UNKNOWN or pid is None:
        raise Refused(f"{version.id} records no process: nothing to signal")
    if state is Liveness.GONE:
        raise Refused(
            f"{version.id} is not running: its process {pid} is gone (it reads as interrupted;"
            f" `ftui resume {version.id}` continues it)"
        )
    if state is Liveness.RECYCLED or as_int(run.get("start_ticks")) is None:
        raise Refused(
            f"process {pid} is not {version.id}'s run (its start time differs or was not"
            " recorded): not signalled"
        )
    launch = as_str(run.get("launch"))
    if launch == "in-process":
        raise Refused(
            f"{version.id} trains inside an ftui app (pid {pid}): cancel it there"
            " (x in the run view)"
        )
    return Target(version.id, pid, status, launch)


def send_stop(target: Target, record_run: dict[str, Any]) -> None:
    """SIGTERM to the run's process (it stops after its current step); a stopped process
    is continued so that it can. The identity is checked again through a pidfd."""
    pidfd = None
    with contextlib.suppress(OSError, AttributeError):
        pidfd = os.pidfd_open(target.pid)
    try:
        if check_process(record_run) is not Liveness.ALIVE:  # pinned now: still the run?
            raise Refused(f"process {target.pid} is no longer {target.version_id}'s run")
        stopped = is_stopped(target.pid)
        try:
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
                if stopped:
                    signal.pidfd_send_signal(pidfd, signal.SIGCONT)
            else:
                os.kill(target.pid, signal.SIGTERM)
                if stopped:
                    os.kill(target.pid, signal.SIGCONT)
        except ProcessLookupError:
            raise Refused(f"{target.version_id}: its process {target.pid} just ended") from None
        except PermissionError:
            raise Refused(
                f"{target.version_id}: not allowed to signal process {target.pid} (another user's)"
            ) from None
    finally:
        if pidfd is not None:
            os.close(pidfd)


def request_cancel(version: Version) -> Target:
    """Ask `version`'s run to stop after its current step (a queued one leaves the queue)."""
    record = read_record(version)
    target = live_target(version, record)
    send_stop(target, as_dict(record.get("run")))
    return target


def wait_for_end(
    version: Version, timeout: float, poll: float = 0.2
) -> Status | Literal["removed"] | None:
    """The status the run ended with (`REMOVED` when a queued run deleted itself; DAMAGED
    for a status no one knows), or None if it is still going after `timeout` seconds."""
    path = version.metadata_path
    assert path is not None
    deadline = time.monotonic() + timeout
    while True:
        try:
            record = read_json_object(path)
        except ReadError as exc:
            if str(exc) == "missing":
                return REMOVED
            record = {}
        status = Status.parse(record.get("status"))
        if status is None and record.get("status") is not None:
            return Status.DAMAGED
        if status is not None and not status.live:
            return status
        if status is not None and check_process(as_dict(record.get("run"))) is not Liveness.ALIVE:
            return Status.INTERRUPTED
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)
