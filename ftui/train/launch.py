"""Runs past one process: `ftui train --nproc-per-node N` through torchrun or `accelerate launch`.

The parent (`run_launched`, called by `ftui train` and by the app) writes the spec to a
JSON file in a folder of its own under `<root>/.ftui/` (removed when it returns; one left
by a parent that died is removed by the next launch) and starts the launcher in a
session of its own (so a terminal's Ctrl+C reaches only the parent) with this module as
every process's entry point:

    python -m torch.distributed.run --standalone --nproc-per-node N -m ftui.train.launch SPEC
    python -m accelerate.commands.launch --config_file FILE [...] -m ftui.train.launch SPEC

Each process runs the ordinary engine; rank 0 claims the one version (or, for a detached
or resumed run, takes over the version named in `FTUI_ATTACH`), writes its metadata
and events.jsonl (the engine already does that under a launcher) and also streams every
event as a JSON line on its stdout, which the parent hands to its own listener: the
terminal printer or the app's run view. Stopping is a file: the parent creates it, rank 0
sees it and sets its stop, and the engine's stop agreement (`dist_stop.py`) makes every
rank stop after the same step. Nothing here imports torch in the parent.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from ftui.store.model import Status

from .events import (
    Cancelled,
    Ended,
    Event,
    Failed,
    Finished,
    LogLine,
    Started,
    event_from_dict,
    event_to_json,
)
from .sink import EventCallback
from .spec import RunSpec, SpecError

STOP_FILE_ENV = "FTUI_STOP_FILE"
ATTACH_ENV = "FTUI_ATTACH"  # {"version_id", "resume_checkpoint", "launch"}: an attached run
LAUNCH_DIR_PREFIX = "launch-"  # <root>/.ftui/launch-<parent pid>-<random>/
LAUNCHED_ENV = "FTUI_LAUNCHED"  # set for the launched processes: never launch again
STOP_POLL_S = 0.5
ABORT_GRACE_S = 40.0  # torchrun itself kills workers 30 s after passing on a SIGTERM
KEPT_STDERR_LINES = 200
_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception)\b:?")
_LAUNCHER_ERRORS = ("ChildFailedError", "SignalException")  # torchrun's own, not the cause


def under_launcher() -> bool:
    """Whether this process was started by torchrun, `accelerate launch` or `run_launched`."""
    return any(name in os.environ for name in ("LOCAL_RANK", "TORCHELASTIC_RUN_ID", LAUNCHED_ENV))


def launcher_command(spec: RunSpec, spec_file: str | os.PathLike[str]) -> list[str]:
    """The command line that runs `spec` (saved in `spec_file`) on all its processes."""
    entry = ["-m", "ftui.train.launch", str(spec_file)]
    if spec.accelerate_config:
        command = [sys.executable, "-m", "accelerate.commands.launch"]
        command += ["--config_file", str(spec.accelerate_config)]
        if spec.world_size > 1:  # else the config file's own process count holds
            command += ["--num_processes", str(spec.world_size)]
        if spec.nnodes > 1:
            command += ["--num_machines", str(spec.nnodes)]
        if spec.rdzv_endpoint:
            host, _, port = spec.rdzv_endpoint.rpartition(":")
            command += ["--main_process_ip", host, "--main_process_port", port]
        return command + entry
    command = [sys.executable, "-m", "torch.distributed.run"]
    command += ["--nproc-per-node", str(spec.nproc_per_node)]
    if spec.nnodes > 1 or spec.rdzv_endpoint:
        command += ["--nnodes", str(spec.nnodes), "--rdzv-backend", "c10d"]
        command += ["--rdzv-endpoint", str(spec.rdzv_endpoint)]
    else:
        command.append("--standalone")  # a free port of its own: runs side by side never clash
    return command + entry


# -- the parent ----------------------------------------------------------------------------


def run_launched(
    spec: RunSpec,
    on_event: EventCallback | None = None,
    stop: threading.Event | None = None,
    attach: Any = None,
) -> Any:
    """Run `spec` under its launcher and wait; the same `RunResult` as `run_training`.

    `on_event` gets rank 0's events as they happen (and the launcher's own output as log
    lines); setting `stop` ends the run after the current step on every rank. `attach`
    (an `engine.Attach`): train into that existing version, or resume it.
    """
    from .engine import RunResult

    emit = on_event or (lambda event: None)
    try:
        spec.validate()
        spec = spec.normalized()
    except SpecError as exc:
        emit(Failed(version_id=None, error=str(exc)))
        return RunResult(None, None, Status.FAILED, str(exc))
    try:
        folder = launch_folder(Path(spec.root))
        spec_file, stop_file = folder / "spec.json", folder / "stop"
        spec_file.write_text(json.dumps(spec.to_dict()), encoding="utf-8")
    except OSError as exc:
        error = f"cannot write the run's spec for the launcher: {exc.strerror or exc}"
        emit(Failed(version_id=None, error=error))
        return RunResult(None, None, Status.FAILED, error)
    command = launcher_command(spec, spec_file)
    how = "accelerate launch" if spec.accelerate_config else f"{spec.world_size} processes"
    emit(LogLine(text=f"launching {how}: python " + " ".join(command[1:])))
    env = {**os.environ, STOP_FILE_ENV: str(stop_file), LAUNCHED_ENV: "1", "PYTHONUNBUFFERED": "1"}
    env.pop(ATTACH_ENV, None)
    if attach is not None:
        env[ATTACH_ENV] = json.dumps(
            {"version_id": attach.version_id, "resume_checkpoint": attach.resume_checkpoint,
             "launch": attach.launch}
        )  # fmt: skip
    watch = _Watch(emit)
    try:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True, text=True, errors="replace",
        )  # fmt: skip
    except OSError as exc:
        _remove(folder)
        error = f"cannot start the launcher: {exc}"
        emit(Failed(version_id=None, error=error))
        return RunResult(None, None, Status.FAILED, error)
    threads = [
        threading.Thread(target=watch.read_stderr, args=(process.stderr,), daemon=True),
        threading.Thread(target=_forward_stop, args=(process, stop, stop_file), daemon=True),
    ]
    for thread in threads:
        thread.start()
    try:
        watch.read_stdout(process.stdout)
        code = process.wait()
    except KeyboardInterrupt:  # a second Ctrl+C: end every process now
        emit(LogLine(text="aborting all processes", level="warning"))
        watch.aborted = True  # torchrun's own traceback about the signal is noise now
        code = _abort(process)
        with contextlib.suppress(OSError, ValueError):
            watch.read_stdout(process.stdout)  # rank 0's last events (it ends `cancelled`)
    finally:
        for thread in threads:
            thread.join(timeout=2)
        _remove(folder)
    return watch.result(code)


class _Watch:
    """Reads the launcher's output: rank 0's events on stdout, everything else as logs."""

    def __init__(self, emit: EventCallback) -> None:
        self.emit = emit
        self.version_id: str | None = None
        self.path: str | None = None
        self.end: Ended | None = None
        self.aborted = False
        self.stderr: collections.deque[str] = collections.deque(maxlen=KEPT_STDERR_LINES)
        self._lock = threading.Lock()

    def _send(self, event: Event) -> None:
        with self._lock:
            self.emit(event)

    def read_stdout(self, stream: IO[str] | None) -> None:
        for line in stream or ():
            event = _parse(line)
            if event is None:
                if line.strip():
                    self._send(LogLine(text=line.rstrip()))
                continue
            if isinstance(event, Started):
                self.version_id, self.path = event.version_id, event.path
            elif isinstance(event, Ended):
                self.end = event
            self._send(event)

    def read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            text = line.rstrip()
            if text:
                self.stderr.append(text)
                if not self.aborted:
                    self._send(LogLine(text=text))

    def reason(self, code: int) -> str:
        """One line: a rank's exception, else torchrun's root cause, else the exit code."""
        lines = [line.strip() for line in self.stderr]
        for line in reversed(lines):
            if _ERROR_LINE.match(line) and not any(n in line for n in _LAUNCHER_ERRORS):
                return line
        if "Root Cause (first observed failure):" in lines:
            fields: dict[str, str] = {}
            for line in lines[lines.index("Root Cause (first observed failure):") :]:
                key, sep, value = line.partition(":")
                if sep and key.strip() in ("rank", "exitcode") and key.strip() not in fields:
                    fields[key.strip()] = " ".join(value.split())
            if fields:
                rank = fields.get("rank", "?").split(" ")[0]
                exitcode = re.sub(r"\s*\(pid: \d+\)", "", fields.get("exitcode", "?"))
                return f"rank {rank} ended with exit code {exitcode}"
        return f"the launcher exited with code {code}"

    def result(self, code: int) -> Any:
        from .engine import RunResult

        path = Path(self.path) if self.path else None
        if isinstance(self.end, Finished):
            return RunResult(self.version_id, path, self.end.status, None, dict(self.end.metrics))
        if isinstance(self.end, Cancelled):
            return RunResult(self.version_id, path, self.end.status)
        if isinstance(self.end, Failed):
            return RunResult(self.version_id, path, self.end.status, self.end.error)
        # No ending from rank 0: it was killed (torchrun kills what is left when a rank
        # fails). Its metadata still says `running` with a dead pid, which the store reads
        # as `interrupted`, as after a kill -9 of a single-process run.
        error = "aborted" if self.aborted else self.reason(code)
        self.emit(Failed(version_id=self.version_id, error=error))
        return RunResult(self.version_id, path, Status.FAILED, error)


def _parse(line: str) -> Event | None:
    if not line.startswith("{"):
        return None
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, RecursionError):
        return None


def _forward_stop(
    process: subprocess.Popen[str], stop: threading.Event | None, stop_file: Path
) -> None:
    """Turn `stop` into the stop file rank 0 watches (while the launcher runs)."""
    if stop is None:
        return
    while process.poll() is None:
        if stop.wait(STOP_POLL_S / 2):
            with contextlib.suppress(OSError):
                stop_file.touch()
            return


def _abort(process: subprocess.Popen[str]) -> int:
    """SIGTERM to the launcher's session (torchrun passes it on to every worker, which then
    stops at once, and kills them 30 s later if need be); SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGTERM, ABORT_GRACE_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        try:
            return process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return process.poll() or 1


def launch_folder(root: Path) -> Path:
    """A fresh folder for one launch's spec and stop files, in `<root>/.ftui/` (beside the
    device queue, never in /tmp where a dead parent's would stay forever). Folders of
    launches whose parent process is gone are removed first."""
    from ftui.store.liveness import pid_alive

    base = root / ".ftui"
    base.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError), os.scandir(base) as entries:
        for entry in list(entries):
            pid = entry.name.removeprefix(LAUNCH_DIR_PREFIX).partition("-")[0]
            if (
                entry.name.startswith(LAUNCH_DIR_PREFIX)
                and pid.isdigit()
                and entry.is_dir(follow_symlinks=False)
                and not pid_alive(int(pid))
            ):
                _remove(Path(entry.path))
    return Path(tempfile.mkdtemp(prefix=f"{LAUNCH_DIR_PREFIX}{os.getpid()}-", dir=base))


def _remove(folder: Path) -> None:
    for name in ("spec.json", "stop"):
        with contextlib.suppress(OSError):
            (folder / name).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()


# -- every launched process ----------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python -m ftui.train.launch SPEC.json`: one process of a launched run."""
    from .engine import run_training
    from .hf_env import distributed_rank

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m ftui.train.launch SPEC.json", file=sys.stderr)
        return 2
    try:
        spec = RunSpec.from_dict(json.loads(Path(args[0]).read_text(encoding="utf-8")))
    except (OSError, ValueError, SpecError) as exc:
        print(f"error: cannot read the run spec {args[0]}: {exc}", file=sys.stderr)
        return 2
    is_main = distributed_rank()[0] == 0
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        if stop.is_set():  # asked to stop already: this one means now
            raise KeyboardInterrupt
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    # Every rank of this node watches (rank 0 alone would do: the stop agreement tells
    # the others), so a following SIGTERM from torchrun ends all of them at once.
    _watch_stop_file(os.environ.get(STOP_FILE_ENV), stop)
    try:
        attach = _attach()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    result = run_training(spec, _stdout_events() if is_main else None, stop, attach)
    # the parent reads the events; the exit code only says whether it went wrong
    return 0 if result.status in (Status.COMPLETED, Status.CANCELLED) else 1


def _attach() -> Any:
    """The existing version this launch trains into (`FTUI_ATTACH`), or None."""
    from .engine import Attach

    raw = os.environ.get(ATTACH_ENV)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return Attach(str(data["version_id"]), data.get("resume_checkpoint"), str(data["launch"]))
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{ATTACH_ENV} is unusable: {raw[:200]!r}") from None


def _stdout_events() -> EventCallback:
    """Rank 0's events as JSON lines on stdout, for the parent; a closed pipe (the parent
    went away) stops the stream, never the run."""
    broken = False

    def write(event: Event) -> None:
        nonlocal broken
        if broken:
            return
        try:
            sys.stdout.write(event_to_json(event) + "\n")
            sys.stdout.flush()
        except (OSError, ValueError):
            broken = True

    return write


def _watch_stop_file(path: str | None, stop: threading.Event) -> None:
    if not path:
        return

    def loop() -> None:
        while not stop.wait(STOP_POLL_S):
            if os.path.exists(path):
                stop.set()

    threading.Thread(target=loop, name="ftui-stop-file", daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
