"""Liveness: pid, host, start time and process state, on real processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from ftui.store.liveness import (
    Liveness,
    check_process,
    identity,
    is_stopped,
    proc_stat,
    running_problem,
)

OLD = "2000-01-01T00:00:00+00:00"  # a heartbeat far older than STALE_AFTER_S


def sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


def test_identity_matches_proc_stat() -> None:
    me = identity()
    stat = proc_stat(os.getpid())
    assert stat is not None and me["start_ticks"] == stat.start_ticks
    assert me["pid"] == os.getpid() and me["host"] == os.uname().nodename
    assert check_process(me) is Liveness.ALIVE


def test_a_stopped_process_is_alive_whatever_its_heartbeat() -> None:
    child = sleeper()
    try:
        run = {**identity(child.pid), "heartbeat_at": OLD}
        os.kill(child.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while not is_stopped(child.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert is_stopped(child.pid)
        assert check_process(run) is Liveness.ALIVE
        assert running_problem(run) is None
    finally:
        child.kill()
        child.wait()


def test_a_dead_process_is_gone_and_a_zombie_too() -> None:
    child = sleeper()
    run = identity(child.pid)
    child.kill()
    time.sleep(0.2)  # not reaped yet: a zombie
    assert check_process(run) is Liveness.GONE
    child.wait()
    assert check_process(run) is Liveness.GONE
    assert "is gone" in (running_problem(run) or "")


def test_a_recycled_pid_is_not_the_run() -> None:
    child = sleeper()
    try:
        run = identity(child.pid)
        run["start_ticks"] = int(run["start_ticks"]) - 1  # type: ignore[call-overload]
        assert check_process(run) is Liveness.RECYCLED
        assert "another" in (running_problem(run) or "")
    finally:
        child.kill()
        child.wait()


def test_another_host_is_judged_by_its_heartbeat() -> None:
    run = {**identity(), "host": "elsewhere.example"}
    assert check_process(run) is Liveness.ELSEWHERE
    assert running_problem({**run, "heartbeat_at": OLD}) is not None
    assert running_problem({**run, "heartbeat_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}) is None


def test_a_process_name_with_parentheses_parses(tmp_path: Path) -> None:
    """The command name (field 2) may hold ") (": fields are counted after the last ")"."""
    program = tmp_path / "x) (y 1 2 3"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    child = subprocess.Popen([str(program), "60"])
    try:
        time.sleep(0.2)
        stat = proc_stat(child.pid)
        assert stat is not None and stat.state in "RSD"
        assert stat.start_ticks == proc_stat(child.pid).start_ticks  # type: ignore[union-attr]
        assert check_process(identity(child.pid)) is Liveness.ALIVE
    finally:
        child.kill()
        child.wait()
