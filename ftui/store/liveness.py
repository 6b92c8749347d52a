"""Is a version recorded as running really still running?

The host is compared with `os.uname().nodename`, which is what `socket.gethostname()`
returns on Linux and macOS, without importing socket.
"""

from __future__ import annotations

import os
import time

from .fields import as_int, as_str, parse_time

STALE_AFTER_S = 600.0  # no heartbeat for this long: the run is gone, wherever it ran


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    except OSError:
        return False
    return True


def running_problem(run: dict[str, object], now: float | None = None) -> str | None:
    """Why a "running" version is in fact interrupted, or None if it may be running."""
    now = time.time() if now is None else now
    pid = as_int(run.get("pid"))
    host = as_str(run.get("host"))
    if pid is not None and host == os.uname().nodename and not pid_alive(pid):
        return f"status is running but its process {pid} is gone"
    beat = parse_time(run.get("heartbeat_at")) or parse_time(run.get("started_at"))
    if beat is None:
        if pid is None:
            return "status is running but no process or heartbeat is recorded"
        return None
    if now - beat > STALE_AFTER_S:
        minutes = int((now - beat) // 60)
        return f"status is running but the last heartbeat was {minutes} min ago"
    return None
