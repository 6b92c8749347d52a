"""`ftui cancel VERSION`: stop a run after its current step, from any shell.

The run ends `cancelled` and keeps its checkpoints; a queued run leaves the queue (its
empty version is removed). Exit status: 0 stopped, 1 still running after --timeout or
ended otherwise, 2 the name, root or version cannot be cancelled (one line says why).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ftui.store.model import Status

from .control import DEFAULT_ROOT, REMOVED, Refused, find, request_cancel, wait_for_end


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftui cancel", description="Stop a run after its current step (status cancelled)."
    )
    parser.add_argument("version", help="the version (id with or without v_)")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help="folder of versions (default: ./model_versions)")  # fmt: skip
    parser.add_argument("--no-wait", action="store_true", help="return once the run is told")
    parser.add_argument("--timeout", type=float, default=300.0, metavar="S",
                        help="how long to wait for the run to stop (default 300 s)")  # fmt: skip
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv[1:])
    try:
        version = find(Path(args.root), args.version)
        target = request_cancel(version)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    queued = target.status is Status.QUEUED
    what = "leaving the queue" if queued else "stopping after its current step"
    print(f"{version.id}: {what}", file=sys.stderr, flush=True)
    if args.no_wait:
        return 0
    ended = wait_for_end(version, args.timeout)
    if ended is None:
        print(f"error: {version.id} is still running after {args.timeout:g} s", file=sys.stderr)
        return 1
    if ended == REMOVED:
        print(f"{version.id}: removed from the queue")
        return 0
    print(f"{version.id}: {ended}")
    return 0 if ended is Status.CANCELLED else 1
