"""End to end: the real `ftui` command in a real pseudo-terminal (pexpect), 80×24.

Browse to a version, open compare, go back, quit; the screen is read from the bytes the
app writes (escape sequences stripped), as a terminal would receive them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect
import pytest
from app_helpers import make_runs

ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]"
)
TIMEOUT_S = 30


class Terminal:
    """A pty running ftui; `wait_for` reads until some text has been drawn."""

    def __init__(self, root: Path, *flags: str) -> None:
        command = shutil.which("ftui", path=str(Path(sys.executable).parent)) or "ftui"
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24"}
        env.pop("NO_COLOR", None)
        self.child = pexpect.spawn(
            command, [str(root), *flags], env=env, dimensions=(24, 80), timeout=TIMEOUT_S
        )
        self.raw = b""
        self.seen = b""

    def wait_for(self, text: str, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        needle = text.encode()
        start = len(self.seen)
        while time.monotonic() < deadline:
            try:
                chunk = self.child.read_nonblocking(65536, timeout=0.2)
            except pexpect.TIMEOUT:
                chunk = b""
            if chunk:
                self.raw += chunk  # strip whole: a sequence may be split across reads
                self.seen = ANSI.sub(b"", self.raw)
            if needle in self.seen[max(0, start - len(needle)) :]:
                return
        tail = self.seen[-2000:].decode(errors="replace")
        raise AssertionError(f"{text!r} never appeared on the screen; last output:\n{tail}")

    def send(self, keys: str) -> None:
        self.child.send(keys)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


def test_browse_compare_quit_in_a_real_terminal(terminal: Terminal) -> None:
    terminal.send("jjj")  # down to 20260302_090000, retrained from 20260301_090000
    terminal.wait_for("2026-03-02 09:00")  # its details
    terminal.send("c")  # compare with its parent
    terminal.wait_for("rank 4 → 8")
    terminal.wait_for("shape differs")
    terminal.send(ESC)  # escape: back to the tree
    terminal.wait_for("Filter")


DOWN, ESC = "\x1b[B", "\x1b"


@pytest.fixture
def terminal(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Terminal]:
    """ftui on the fixture versions in a real pty, scanned; `q` at the end must quit.
    `@pytest.mark.parametrize("terminal", [flags], indirect=True)` adds command flags."""
    if sys.platform == "win32":
        pytest.skip("needs a pty")
    flags = getattr(request, "param", ())
    terminal = Terminal(make_runs(tmp_path / "runs"), *flags)
    try:
        terminal.wait_for("5 versions")
        yield terminal
        terminal.send("q")
        terminal.child.expect(pexpect.EOF, timeout=TIMEOUT_S)
        terminal.child.close()
        assert terminal.child.exitstatus == 0
    finally:
        terminal.close()


def test_enter_opens_full_details_and_escape_returns(terminal: Terminal) -> None:
    terminal.send("jj")  # v_20260301_090000: enter opens all of it, full screen
    terminal.wait_for("2026-03-01 09:00")
    terminal.send("\r")
    terminal.wait_for("train loss")  # below the fold until the details fill the screen
    terminal.send(ESC)
    time.sleep(0.5)  # (escape and k in one read would be alt+k)
    terminal.send("k")  # the tree has the keys again: up to v_20260303_090000
    terminal.wait_for("2026-03-03 09:00")  # its details


def test_typeahead_lands_in_the_right_field(terminal: Terminal) -> None:
    terminal.send("jj")
    terminal.wait_for("2026-03-01 09:00")
    # one burst, as a fast typist (or a paste) sends it: open the form, go down to the
    # tenth field (epochs), type over it, start
    terminal.send("R" + DOWN * 9 + "xyz" + "\x13")  # ctrl+s
    terminal.wait_for("epochs: expected a number")  # xyz landed in epochs
    terminal.send(ESC)
    terminal.wait_for("Filter")


@pytest.mark.parametrize("terminal", [("--in-process",)], indirect=True)
def test_cancel_and_quit_during_a_run_ask_first(terminal: Terminal) -> None:
    """In-process mode: quitting would end the run, so q asks; x asks in every mode."""
    terminal.send("t")
    terminal.wait_for("New training run")
    terminal.send(DOWN * 9 + "50" + "\x13")  # 50 epochs of the demo data: long enough
    terminal.wait_for("Training ")
    terminal.wait_for("ETA", timeout=120)  # it is making progress
    terminal.send("q")  # quitting would cancel it: asks
    terminal.wait_for("Quit?")
    terminal.send(ESC + "\r")  # a stray escape or enter does not answer
    time.sleep(0.5)
    assert terminal.child.isalive()
    terminal.send("n")
    terminal.send("x")  # cancel: asks too
    terminal.wait_for("its checkpoints are kept")
    terminal.send(ESC)
    time.sleep(0.5)
    terminal.send("y")
    terminal.wait_for("cancelled")  # nothing runs now: the fixture's q quits at once


def _run_on_disk(root: Path) -> tuple[str, dict[str, object]] | None:
    """The one version under `root` and its metadata, once its process is recorded."""
    import json

    for meta in root.glob("metadata_*.json"):
        try:
            record = json.loads(meta.read_text())
        except ValueError:  # (never half-written: atomic) an unlucky read of nothing
            continue
        run = record.get("run") or {}
        if isinstance(run, dict) and run.get("start_ticks") is not None:
            return meta.stem.removeprefix("metadata_"), record
    return None


def _until(predicate: Callable[[], object], timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    return predicate()


def test_a_run_started_with_t_outlives_the_terminal(tmp_path: Path) -> None:
    """The issue's first "Done when": start a run with `t`, lose the terminal (SIGHUP to
    the app's process group and the pty closed, as an SSH drop does), and the run goes
    on to complete; a new ftui in a new terminal shows it live, then `completed`, on its
    own (it polls: no key is pressed)."""
    import json
    import signal

    from ftui.store.liveness import Liveness, check_process
    from ftui.store.naming import version_folder

    if sys.platform == "win32":
        pytest.skip("needs a pty")
    root = tmp_path / "versions"
    root.mkdir()
    first = Terminal(root)
    second: Terminal | None = None
    pid: int | None = None
    try:
        first.wait_for("0 versions")
        first.send("t")
        first.wait_for("New training run")
        # the tenth field is epochs: 12 epochs of the demo data on the tiny model, about
        # 8 s on one core: enough to outlive the first terminal and be seen by the second
        first.send(DOWN * 9 + "12" + "\x13")  # ctrl+s
        first.wait_for("quitting ftui or losing the terminal leaves it running")
        found = _until(lambda: _run_on_disk(root), TIMEOUT_S)
        assert found, "the launched run never recorded its process"
        version_id, record = found  # type: ignore[misc]
        run = record["run"]
        assert isinstance(run, dict) and run["launch"] == "detached"
        pid = int(run["pid"])
        assert pid != first.child.pid
        # the SSH drop: the session's processes get SIGHUP, the pty goes away
        os.killpg(first.child.pid, signal.SIGHUP)
        first.child.close(force=True)
        assert not first.child.isalive()
        time.sleep(0.5)
        assert check_process(run) is Liveness.ALIVE, "the run died with its terminal"

        second = Terminal(root)
        second.wait_for(version_id[:8])
        status = json.loads((root / f"metadata_{version_id}.json").read_text())["status"]
        assert status == "running", status  # still training when the new app opens
        second.wait_for("running")
        second.wait_for("completed", timeout=240)  # no key pressed: the app polls
        final = json.loads((root / f"metadata_{version_id}.json").read_text())
        assert final["status"] == "completed", final.get("error")
        assert final["run"]["pid"] == pid  # the same process, started from the first app
        folder = version_folder(root, version_id)
        assert (folder / "adapter_model.safetensors").stat().st_size > 0
        assert (folder / "checkpoint-132").is_dir()  # 12 epochs x 11 steps
        second.send("q")
        second.child.expect(pexpect.EOF, timeout=TIMEOUT_S)
    finally:
        first.close()
        if second is not None:
            second.close()
        if pid is not None:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)  # only if the test failed midway
