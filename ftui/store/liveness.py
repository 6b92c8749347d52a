"""Is a version recorded as running really still running, and is a pid really its process?

A run records its pid, host, boot id and process start time (`/proc/<pid>/stat` field 22,
clock ticks since boot). A pid alone is not enough: pids are recycled, so a process with
the recorded pid but another start time is someone else, and is neither "the run" nor
ever signalled. A stopped process (ctrl+z, state T) is alive: it may be continued.

The host is compared with `os.uname().nodename`, which is what `socket.gethostname()`
returns on Linux and macOS, without importing socket.
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass

from .fields import as_int, as_str, parse_time

STALE_AFTER_S = 600.0  # no heartbeat for this long: the run is gone, wherever it ran
_BOOT_ID = "/proc/sys/kernel/random/boot_id"


def this_host() -> str:
    return os.uname().nodename


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (zombies are not alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return False
    return process_state(pid) not in ("Z", "X")


@dataclass(frozen=True, slots=True)
class ProcStat:
    """What `/proc/<pid>/stat` says about a process."""

    state: str  # R, S, D, T (stopped), t, Z (zombie), X...
    start_ticks: int  # field 22: when it started, in clock ticks since boot


def proc_stat(pid: int) -> ProcStat | None:
    """The state and start time of `pid`, or None (no such process, or no /proc)."""
    if pid <= 0:
        return None
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read(4096)
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold ") ": split after
    # the last one. Fields from 3 on follow, space separated.
    _, sep, rest = raw.rpartition(b")")
    fields = rest.split() if sep else []
    if len(fields) < 20:
        return None
    try:
        return ProcStat(fields[0].decode("ascii", "replace"), int(fields[19]))
    except ValueError:
        return None


def process_state(pid: int) -> str | None:
    stat = proc_stat(pid)
    return stat.state if stat is not None else None


def boot_id() -> str | None:
    try:
        with open(_BOOT_ID, encoding="ascii") as handle:
            return handle.read(64).strip() or None
    except OSError:
        return None


def identity(pid: int | None = None) -> dict[str, object]:
    """What a run records about its own process (`run.pid`, `host`, `start_ticks`, `boot_id`)."""
    pid = os.getpid() if pid is None else pid
    stat = proc_stat(pid)
    return {
        "pid": pid,
        "host": this_host(),
        "start_ticks": stat.start_ticks if stat is not None else None,
        "boot_id": boot_id(),
    }


class Liveness(enum.StrEnum):
    """What can be said about the process a run recorded."""

    ALIVE = "alive"  # this host, same pid and start time, not a zombie (maybe stopped)
    GONE = "gone"  # this host, and no such process (or a zombie)
    RECYCLED = "recycled"  # this host, but the pid now belongs to another process
    ELSEWHERE = "elsewhere"  # recorded on another host: only the heartbeat can tell
    UNKNOWN = "unknown"  # no pid recorded


def check_process(run: dict[str, object]) -> Liveness:
    """Whether the process recorded in `run` (a metadata `run` block) is still that run."""
    pid = as_int(run.get("pid"))
    if pid is None:
        return Liveness.UNKNOWN
    host = as_str(run.get("host"))
    if host is not None and host != this_host():
        return Liveness.ELSEWHERE
    recorded_boot = as_str(run.get("boot_id"))
    current_boot = boot_id()
    if recorded_boot and current_boot and recorded_boot != current_boot:
        return Liveness.GONE  # the machine rebooted since the run started
    if not pid_alive(pid):
        return Liveness.GONE
    recorded_start = as_int(run.get("start_ticks"))
    stat = proc_stat(pid)
    if recorded_start is not None and stat is not None and stat.start_ticks != recorded_start:
        return Liveness.RECYCLED
    return Liveness.ALIVE


def is_stopped(pid: int) -> bool:
    """True when the process is stopped (ctrl+z or SIGSTOP): alive, but not running."""
    return process_state(pid) in ("T", "t")


def running_problem(run: dict[str, object], now: float | None = None) -> str | None:
    """Why a "running" (or "queued") version is in fact interrupted, or None if it may
    still be running. On this host the process decides, whatever the heartbeat's age (a
    stopped process beats no heartbeat but is alive); elsewhere only the heartbeat can."""
    now = time.time() if now is None else now
    pid = as_int(run.get("pid"))
    state = check_process(run)
    if state is Liveness.ALIVE and run.get("start_ticks") is not None:
        return None  # surely the run: alive, even stopped, whatever its heartbeat's age
    if state is Liveness.GONE:
        return f"status is running but its process {pid} is gone"
    if state is Liveness.RECYCLED:
        return f"status is running but its process {pid} is gone (the pid now names another)"
    beat = parse_time(run.get("heartbeat_at")) or parse_time(run.get("started_at"))
    if beat is None:
        if pid is None:
            return "status is running but no process or heartbeat is recorded"
        return None
    if now - beat > STALE_AFTER_S:
        minutes = int((now - beat) // 60)
        return f"status is running but the last heartbeat was {minutes} min ago"
    return None
