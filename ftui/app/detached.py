"""Runs the app starts as their own processes, and following any run to its end.

`t`, `r` and `R` start `ftui train` detached (`ftui.runs.launch`): the run goes on when
the app quits or the terminal goes; the app follows its `events.jsonl`, as it follows a
run started elsewhere (`w`). While following, the run's process is checked every few
seconds (pid, host, start time): a run that died becomes `interrupted` in a few seconds,
not at the next change of the folder. `x` cancels through `ftui.runs.control` (a signal
to the verified process), `C` resumes through `ftui.runs.resume`.

These functions run in thread workers: they only call plain functions and post messages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftui.store.fields import as_dict
from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.liveness import Liveness, check_process, running_problem
from ftui.store.model import Status
from ftui.store.naming import metadata_file
from ftui.train.events import Ended, Progress

from .messages import RunEnded, RunEventMessage, RunLaunched, RunProgress
from .run_state import RunState, follow_events

if TYPE_CHECKING:
    from textual.app import App

    from ftui.train.spec import RunSpec


def process_alive(meta: Path) -> Callable[[], bool]:
    """Whether the run recorded in `meta` still has a process (a stopped one counts)."""

    def alive() -> bool:
        try:
            record = read_json_object(meta)
        except ReadError:
            return False  # removed (a queued run cancelled) or unreadable: nothing to follow
        run = as_dict(record.get("run"))
        status = Status.parse(record.get("status"))
        if status is not None and status.live:
            return running_problem(run) is None
        return check_process(run) is Liveness.ALIVE  # ended: until its last event is out

    return alive


def follow(app: App[Any], state: RunState, folder: Path, meta: Path) -> None:
    """Relay a run's events until it ends, dies, or the user stops following. Raises on
    a log that is a FIFO, a device or unreadable: the app's worker handler reports it
    and ends the follow (`FtuiApp.worker_failed`)."""
    ended = False
    for events in follow_events(folder, state.stop, process_alive(meta)):
        for event in events:
            message = RunProgress if isinstance(event, Progress) else RunEventMessage
            app.post_message(message(state.token, event))
            ended = ended or isinstance(event, Ended)
    if ended:
        return
    if state.stop.is_set():
        app.post_message(RunEnded(state.token, None, state.version_id))  # the run goes on
    elif not meta.exists():
        left = RunEnded(state.token, Status.CANCELLED, state.version_id, "left the queue")
        app.post_message(left)
    else:
        reason = "its process is gone (resume it with C or `ftui resume`)"
        app.post_message(RunEnded(state.token, Status.INTERRUPTED, state.version_id, reason))


def launch_and_follow(
    app: App[Any], state: RunState, spec: RunSpec, root: Path, devices: list[int] | None = None
) -> None:
    """`t`/`r`/`R`: start the run as its own process (on `devices`), then follow it."""
    from ftui.runs.launch import launch
    from ftui.store.writer import WriteError
    from ftui.train.spec import SpecError

    try:
        launched = launch(spec, devices)
    except (SpecError, WriteError, OSError) as exc:
        app.post_message(RunEnded(state.token, Status.FAILED, None, str(exc)))
        return
    note = "it runs on its own: quitting ftui or losing the terminal leaves it running"
    app.post_message(
        RunLaunched(state.token, launched.version_id, launched.pid, launched.log, note)
    )
    follow(app, state, launched.path, metadata_file(root, launched.version_id))


def resume_and_follow(app: App[Any], state: RunState, root: Path, version_id: str) -> None:
    """`C`: resume an interrupted, cancelled or failed run in place, then follow it."""
    from ftui.runs.control import Refused
    from ftui.runs.launch import spawn
    from ftui.runs.resume import begin, plan

    try:
        resume = plan(root, version_id)
        begin(resume)
        launched = spawn(root.resolve(), resume.version.id, resume.devices, resume.checkpoint)
    except (Refused, OSError) as exc:
        failed = RunEnded(state.token, Status.FAILED, version_id, f"cannot resume: {exc}")
        app.post_message(failed)
        return
    note = f"resuming from {resume.checkpoint}"
    app.post_message(
        RunLaunched(state.token, launched.version_id, launched.pid, launched.log, note)
    )
    follow(app, state, launched.path, metadata_file(root, launched.version_id))


def cancel(app: App[Any], root: Path, version_id: str) -> None:
    """`x`: ask a run (started anywhere on this host) to stop after its current step."""
    from ftui.runs.control import Refused, find, request_cancel
    from ftui.store import Refused as StoreRefused

    try:
        target = request_cancel(find(root, version_id))
    except Refused as exc:  # reported as "refused to cancel ID: why" by the worker handler
        raise StoreRefused(str(exc)) from None
    what = "leaves the queue" if target.status is Status.QUEUED else "stops after its current step"
    app.call_from_thread(app.notify, f"{version_id} {what}", markup=False)
