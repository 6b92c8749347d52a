"""Training a version that was claimed first: the process a detached launch starts
(`ftui train --run-version ID`, not for users), a foreground run that had to queue, and
`ftui resume`.

It reads the run's spec from the version's metadata, waits its turn for the device (the
version shows `queued` with its position meanwhile), and trains into that version (or
resumes it), recording every outcome there. Cancelled while queued, a new run's version
is removed (nothing was trained); a resumed one goes back to `cancelled`.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from ftui.store.fields import as_dict
from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.liveness import identity
from ftui.store.model import Status
from ftui.store.naming import version_folder
from ftui.store.writer import metadata_path, update_metadata

from .launch import recorded_devices
from .queue import Lease, wait_turn


def run_version(
    root: Path,
    version_id: str,
    resume_checkpoint: str | None,
    quiet: bool,
    launch: str = "detached",
    lease: Lease | None = None,
) -> int:
    """Train the claimed version `version_id` under `root`; the exit code of `ftui train`."""
    from ftui.train.commands import EXIT_CANCELLED, EXIT_USAGE, run_spec, signals_stop
    from ftui.train.engine import Attach
    from ftui.train.spec import RunSpec, SpecError

    root = root.resolve()
    meta = metadata_path(root, version_id)
    try:
        record = read_json_object(meta)
        spec = RunSpec.from_dict({**as_dict(record.get("spec")), "root": str(root)})
    except (ReadError, SpecError) as exc:
        print(f"error: {version_id}: cannot read its spec ({exc})", file=sys.stderr)
        return EXIT_USAGE
    if lease is None:
        stop = threading.Event()
        with signals_stop(stop, sys.stderr):
            lease = _wait(root, version_id, recorded_devices(record), stop, quiet)
        if lease is None:
            _leave_queue(root, version_id, resume_checkpoint)
            return EXIT_CANCELLED
    try:
        attach = Attach(version_id, resume_checkpoint, launch)
        return run_spec(spec, quiet=quiet, attach=attach)
    finally:
        lease.release()


def _wait(
    root: Path, version_id: str, devices: list[int] | None, stop: threading.Event, quiet: bool
) -> Lease | None:
    """Wait for the device, telling the metadata (the tree), the event log (the run view)
    and stderr where the run stands."""
    from ftui.train.sink import EventSink

    sink = EventSink(None)
    sink.attach(version_folder(root, version_id))

    def say(text: str, level: str = "info") -> None:
        sink.log(text, level)
        if not quiet or level != "info":
            print(text if level == "info" else f"{level}: {text}", file=sys.stderr, flush=True)

    def on_position(position: int) -> None:
        def change(record: dict[str, Any]) -> None:
            record["status"] = Status.QUEUED
            record["queue"] = {"position": position}
            run = record.setdefault("run", {})
            if isinstance(run, dict):  # this process owns the version while it waits
                run.update(identity())

        update_metadata(metadata_path(root, version_id), change)
        say(f"queued: position {position}, waiting for the device")

    try:
        return wait_turn(root, version_id, devices, stop, on_position, lambda t: say(t, "warning"))
    finally:
        sink.close()


def _leave_queue(root: Path, version_id: str, resume_checkpoint: str | None) -> None:
    """Cancelled while queued: a new run's (empty) version goes; a resumed one stays,
    cancelled as it was."""
    from ftui.store.disk import delete
    from ftui.store.scanner import read_described_version

    meta = metadata_path(root, version_id)
    if resume_checkpoint:

        def change(record: dict[str, Any]) -> None:
            record["status"] = Status.CANCELLED
            record.pop("queue", None)

        update_metadata(meta, change)
        print(f"{version_id}: left the queue (still cancelled)", file=sys.stderr)
        return
    delete(read_described_version(root, version_id), root=root)
    print(f"{version_id}: removed from the queue", file=sys.stderr)
