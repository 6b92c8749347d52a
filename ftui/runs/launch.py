"""Starting a run as its own process, detached from the terminal.

`launch` claims the version at once (status `queued`, its spec in the metadata) and starts
`python -m ftui train --run-version ID` in a new session: stdin from /dev/null, output
appended to `train.log` in the version folder. Closing the terminal or the app that
started it leaves it running; the app and `ftui cancel` find it through its metadata
(pid, host, process start time) and follow it through its `events.jsonl`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ftui.store.digests import MANIFEST_KEY
from ftui.store.liveness import identity
from ftui.store.model import Status
from ftui.store.naming import version_folder
from ftui.store.writer import claim_version, create_metadata, metadata_path, update_metadata
from ftui.train.metadata import parent_record

LOG_FILE = "train.log"


@dataclass(frozen=True)
class Launched:
    version_id: str
    path: Path
    pid: int
    log: Path


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def parse_devices(value: str | None) -> list[int] | None:
    """`"0,1"` -> [0, 1]; None or empty -> None (the default device). Raises ValueError."""
    if value is None or not value.strip():
        return None
    devices: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part.isdigit() or len(part) > 4:
            raise ValueError(f"--devices {value!r}: expected GPU indices such as 0 or 0,1")
        if int(part) not in devices:
            devices.append(int(part))
    return devices


def recorded_devices(record: Mapping[str, Any]) -> list[int] | None:
    """The devices a version's metadata says its run uses (`run.devices`); None: the default."""
    run = record.get("run")
    devices = run.get("devices") if isinstance(run, Mapping) else None
    if isinstance(devices, list) and all(type(d) is int and d >= 0 for d in devices):
        return list(devices)
    return None


def device_env(devices: list[int] | None) -> dict[str, str]:
    """The environment a run on `devices` needs (CUDA_VISIBLE_DEVICES)."""
    return {} if devices is None else {"CUDA_VISIBLE_DEVICES": ",".join(map(str, devices))}


def queued_record(spec: Any, devices: list[int] | None) -> dict[str, Any]:
    """The first metadata of a launched run: enough for the tree to show it right away;
    the run fills in the rest (data fingerprint, arguments, libraries) when it starts."""
    now = _now()
    parent = parent_record(spec)
    return {
        "timestamp": now,
        "model_name": spec.base_model,
        "lora_config": {"r": spec.r, "lora_alpha": spec.alpha, "lora_dropout": spec.dropout},
        "num_epochs": spec.epochs,
        "status": Status.QUEUED,
        "parent": parent,
        "spec": spec.to_dict(),
        "metrics": {},
        "epochs": [],
        MANIFEST_KEY: {},
        "tags": [],
        "notes": "",
        "run": {
            "host": socket.gethostname(),
            "queued_at": now,
            "heartbeat_at": now,
            "launch": "detached",
            "devices": devices,
        },
        "error": None,
    }


def child_command(root: Path, version_id: str, resume_checkpoint: str | None = None) -> list[str]:
    command = [sys.executable, "-m", "ftui", "train", "--run-version", version_id]
    command += ["--root", str(root)]
    if resume_checkpoint:
        command += ["--resume-checkpoint", resume_checkpoint]
    return command


def spawn(
    root: Path,
    version_id: str,
    devices: list[int] | None = None,
    resume_checkpoint: str | None = None,
) -> Launched:
    """Start the process that trains the (existing) version `version_id`, detached."""
    folder = version_folder(root, version_id)
    log_path = folder / LOG_FILE
    env = {**os.environ, **device_env(devices), "PYTHONUNBUFFERED": "1"}
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    try:
        process = subprocess.Popen(
            child_command(root, version_id, resume_checkpoint),
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=fd,
            start_new_session=True,  # its own session: no SIGHUP when the terminal goes
            close_fds=True,
            env=env,
            cwd=str(root),
        )
    finally:
        os.close(fd)
    # A long-lived parent (the app) reaps it when it ends, so no zombie stays behind; a
    # parent that exits first (`ftui train --detach`) leaves that to init.
    threading.Thread(target=process.wait, name=f"ftui-reap-{process.pid}", daemon=True).start()
    # Record the process at once, so `ftui cancel` works before the child writes it itself.
    who = identity(process.pid)

    def record(r: dict[str, Any]) -> None:
        run = r.setdefault("run", {})
        status = Status.parse(r.get("status"))
        live = status is not None and status.live
        if isinstance(run, dict) and live and run.get("pid") in (None, process.pid):
            run.update(who)
            run["host"] = socket.gethostname()

    with contextlib.suppress(Exception):
        update_metadata(metadata_path(root, version_id), record)
    return Launched(version_id, folder, process.pid, log_path)


def claim_queued(spec: Any, devices: list[int] | None, launch: str = "detached") -> str:
    """Claim a version for `spec` with its first metadata (status queued); its id."""
    root = Path(spec.root)
    version_id, _folder = claim_version(root)
    record = queued_record(spec, devices)
    record["run"]["launch"] = launch
    create_metadata(root, version_id, record)
    return version_id


def launch(spec: Any, devices: list[int] | None = None) -> Launched:
    """Claim a version for `spec` (validated first; raises SpecError or WriteError) and
    start its run in the background."""
    spec.validate()
    spec = spec.normalized()
    root = Path(spec.root)
    version_id = claim_queued(spec, devices)
    try:
        return spawn(root, version_id, devices)
    except OSError as exc:
        reason = f"could not start the run: {exc.strerror or exc}"
        update_metadata(metadata_path(root, version_id), {"status": Status.FAILED, "error": reason})
        raise
