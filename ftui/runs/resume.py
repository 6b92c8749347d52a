"""`ftui resume VERSION`: continue an interrupted, cancelled or failed run, in place.

From the version's last complete checkpoint: weights, optimizer, scheduler, RNG state and
data order (the Trainer's `resume_from_checkpoint`); history and checkpoints go on and
the status returns to running. Optimizer, scheduler and RNG states are pickles, so only
a checkpoint ftui recorded as saved, whose files all match their recorded sha256, is
loaded; anything else is refused before a byte of it is read by torch, and nothing is
changed. Exit status: as `ftui train` (0 completed, 1 failed, 130 cancelled), 2 refused.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.store.digests import MANIFEST_KEY, verify
from ftui.store.fields import as_dict, as_str
from ftui.store.liveness import Liveness, check_process
from ftui.store.model import Checkpoint, Status, Version
from ftui.store.writer import metadata_path, update_metadata

from .control import DEFAULT_ROOT, Refused, find, read_record
from .launch import recorded_devices

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
RESUMABLE = (Status.CANCELLED, Status.FAILED, Status.RUNNING, Status.QUEUED)  # live: if dead


@dataclass(frozen=True)
class ResumePlan:
    version: Version
    root: Path
    checkpoint: str
    spec: Any  # RunSpec
    stale: tuple[Checkpoint, ...]  # later, incomplete checkpoint folders to clear first
    devices: list[int] | None


def _folders(folder: Path) -> list[tuple[int, str]]:
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                match = _CHECKPOINT.match(entry.name)
                if match and entry.is_dir(follow_symlinks=False):
                    found.append((int(match[1]), entry.name))
    except OSError as exc:
        raise Refused(f"{folder.name}/: unreadable ({exc.strerror or exc})") from None
    return sorted(found)


def plan(root: Path, name: str, checkpoint: str | None = None) -> ResumePlan:
    """Check everything a resume needs, changing nothing; raises Refused (one line)."""
    from ftui.train.spec import RunSpec, SpecError

    version = find(root, name)
    record = read_record(version)
    vid = version.id
    status = Status.parse(record.get("status"))
    if status is None or status not in RESUMABLE:
        hint = " (retrain it with `ftui retrain`)" if status is Status.COMPLETED else ""
        raise Refused(f"{vid} is {status or 'unknown'}: there is nothing to resume{hint}")
    run = as_dict(record.get("run"))
    if status.live:
        state = check_process(run)
        if state is Liveness.ELSEWHERE:
            raise Refused(f"{vid} runs on host {as_str(run.get('host'))}: resume it there")
        if state is Liveness.ALIVE or state is Liveness.UNKNOWN:
            raise Refused(f"{vid} is still {status} (process {run.get('pid')})")
    try:
        spec = RunSpec.from_dict({**as_dict(record.get("spec")), "root": str(root.resolve())})
    except SpecError as exc:
        raise Refused(f"{vid}: its recorded spec is unusable ({exc})") from None
    if not record.get("spec"):
        raise Refused(f"{vid} records no spec: it was not trained by ftui")
    if spec.nnodes > 1:  # the other nodes' ranks would need the checkpoint too
        raise Refused(
            f"{vid} ran on {spec.nnodes} machines: resume it on each node by hand, or retrain it"
        )
    manifests = record.get(MANIFEST_KEY)
    if not isinstance(manifests, dict):
        raise Refused(f"{vid} records no checkpoint digests: its checkpoints cannot be verified")
    folders = _folders(version.path)
    complete = [(step, n) for step, n in folders if n in manifests]
    if checkpoint is None:
        if not complete:
            raise Refused(f"{vid} has no complete checkpoint to resume from")
        step, chosen = complete[-1]
    else:
        chosen = "checkpoint-" + checkpoint.strip().removeprefix("checkpoint-")
        match = _CHECKPOINT.match(chosen)
        if match is None or chosen not in dict((n, s) for s, n in folders):
            known = ", ".join(n for _, n in complete) or "none"
            raise Refused(f"{vid} has no {chosen} (complete checkpoints: {known})")
        step = int(match[1])
    reason = verify(version.path / chosen, manifests.get(chosen))
    if reason is not None:
        raise Refused(f"{vid}:{chosen}: {reason}; refusing to load its pickles")
    later = [(s, n) for s, n in folders if s > step]
    kept = [n for s, n in later if n in manifests]
    if kept:
        raise Refused(
            f"{vid}: {kept[0]} is later than {chosen}; resume from it, or delete it first"
        )
    stale = tuple(Checkpoint(n, version.path / n, s) for s, n in later)
    return ResumePlan(version, root, chosen, spec, stale, recorded_devices(record))


def begin(resume: ResumePlan) -> None:
    """Clear the later, half-written checkpoint folders (they would be saved over), mark
    the version queued for the process that resumes it, and say so in its event log."""
    from ftui.store.disk import delete

    for stale in resume.stale:
        delete(resume.version, stale, root=resume.root)

    def change(record: dict[str, Any]) -> None:
        record["status"] = Status.QUEUED
        record["error"] = None
        run = record.get("run")
        if isinstance(run, dict):
            for key in ("pid", "start_ticks", "boot_id", "finished_at"):
                run[key] = None

    update_metadata(metadata_path(resume.root, resume.version.id), change)
    _log(resume, f"resume: continuing from {resume.checkpoint}")


def _log(resume: ResumePlan, text: str) -> None:
    """A line in the version's events.jsonl, written before the resumed process starts:
    a follower that opens the log now sees a run going on, not the previous ending."""
    from ftui.train.sink import EventSink

    sink = EventSink(None)
    try:
        with contextlib.suppress(OSError):  # (a follower then sees the old ending: no harm)
            sink.attach(resume.version.path)
            sink.log(text)
    finally:
        sink.close()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftui resume",
        description="Continue an interrupted, cancelled or failed run from its last complete "
        "checkpoint (weights, optimizer, scheduler, RNG state, data order), in place.",
    )
    parser.add_argument("version", help="the version (id with or without v_)")
    parser.add_argument("--checkpoint", default=None, metavar="N",
                        help="resume from checkpoint-N (default: the last complete)")  # fmt: skip
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help="folder of versions (default: ./model_versions)")  # fmt: skip
    parser.add_argument("--detach", action="store_true",
                        help="resume in the background (output: train.log)")  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the version id")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    root = Path(args.root)
    try:
        resume = plan(root, args.version, args.checkpoint)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    vid = resume.version.id
    begin(resume)
    if not args.quiet:
        print(f"{vid}: resuming from {resume.checkpoint}", file=sys.stderr, flush=True)
    if args.detach:
        from .launch import spawn

        launched = spawn(root.resolve(), vid, resume.devices, resume.checkpoint)
        if not args.quiet:
            print(f"{vid}: running in the background (pid {launched.pid}); log: {launched.log}",
                  file=sys.stderr)  # fmt: skip
        print(vid, flush=True)
        return 0
    from .child import run_version
    from .launch import device_env

    os.environ.update(device_env(resume.devices))
    return run_version(root, vid, resume.checkpoint, args.quiet, launch="foreground")
