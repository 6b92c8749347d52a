"""The metadata a run writes (docs/format.md), its final metrics, and its heartbeat.

Pure standard library plus `ftui.store.writer`: metadata is only ever written through
the store's atomic, locked writers.
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
import socket
import threading
from datetime import datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from ftui.store.digests import MANIFEST_KEY
from ftui.store.liveness import identity
from ftui.store.model import Status
from ftui.store.writer import update_metadata

HEARTBEAT_SECONDS = 20.0
LIBRARIES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate")
LORA_KEYS = ("r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora", "bias")
MAX_ERROR_CHARS = 400


def now_iso() -> str:
    return datetime.now().astimezone().isoformat(timespec="seconds")


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def parent_record(spec: Any) -> dict[str, Any] | None:
    """The metadata's `parent`: which version (and checkpoint) a run starts from, and how."""
    if not spec.parent:
        return None
    return {
        "version_id": spec.parent,
        "checkpoint": spec.parent_checkpoint,
        "mode": "continue" if spec.continue_from_parent else "fresh",
    }


def initial_metadata(model_name: str, prepared: Any, version_id: str) -> dict[str, Any]:
    """The first metadata of a run (status `running`): everything known before training."""
    spec, examples = prepared.spec, prepared.examples
    started = now_iso()
    parent = parent_record(spec)
    return {
        "timestamp": started,
        "model_name": model_name,
        "lora_config": {k: prepared.lora.get(k) for k in LORA_KEYS},
        "num_samples": examples.num_train,
        "num_epochs": spec.epochs,
        "status": Status.RUNNING,
        "parent": parent,
        "data": {
            "path": examples.path,
            "fingerprint": examples.fingerprint,
            "num_samples": examples.num_train,
            "text_field": spec.text_field,
            "eval_path": examples.eval_path,
            "num_eval_samples": examples.num_eval,
        },
        "training_args": dict(prepared.args),
        "spec": _recorded_spec(spec, getattr(prepared, "world", 1)),
        "metrics": final_metrics([], None),
        "epochs": [],
        "tags": [],
        "notes": "",
        "library_versions": library_versions(),
        MANIFEST_KEY: {},
        "run": {
            **identity(),
            "host": socket.gethostname(),
            "started_at": started,
            "heartbeat_at": started,
            "finished_at": None,
            "device": prepared.hardware.device,
            "precision": prepared.hardware.precision,
        },
        "error": None,
    }


def _recorded_spec(spec: Any, world: int) -> dict[str, Any]:
    """The spec as asked, plus what the launch made of it: the processes that trained
    together and the examples per optimizer step over all of them (read, never set)."""
    record: dict[str, Any] = spec.to_dict()
    record["world_size"] = world
    record["global_batch"] = spec.batch_size * spec.grad_accum * world
    return record


# Fields of a launcher-claimed version that the run's own first metadata must not replace.
KEPT_ON_ATTACH = ("timestamp", "tags", "notes")


def mark_started(record: dict[str, Any], launch: str) -> None:
    """The process that will train an attached version takes it over: status running,
    its own pid/host/start time (so `ftui cancel` signals it and only it)."""
    record["status"] = Status.RUNNING
    record["error"] = None
    record.pop("queue", None)
    run = record.get("run")
    if not isinstance(run, dict):
        run = record["run"] = {}
    run.update(identity())
    run["host"] = socket.gethostname()
    run["heartbeat_at"] = now_iso()
    run["finished_at"] = None
    run["launch"] = launch


def checkpoint_step(name: str) -> int | None:
    """`checkpoint-12` -> 12."""
    prefix, _, step = name.rpartition("-")
    return int(step) if prefix == "checkpoint" and step.isdigit() else None


def history_until(
    record: dict[str, Any], checkpoint: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The epoch records and checkpoint manifests of a version up to `checkpoint`: what a
    run resumed from it carries on from (later ones are being redone)."""
    limit = checkpoint_step(checkpoint) or 0
    epochs = [
        e
        for e in record.get("epochs") or []
        if isinstance(e, dict) and isinstance(e.get("step"), int) and e["step"] <= limit
    ]
    files = record.get(MANIFEST_KEY)
    kept = {
        name: entry
        for name, entry in (files.items() if isinstance(files, dict) else [])
        if (checkpoint_step(name) or limit + 1) <= limit
    }
    return epochs, kept


class DiskReserve:
    """A small preallocated file in the version folder, released when the run ends.

    On a full disk the final status must still land: freeing this first leaves room for
    the metadata write. Best effort: where it cannot be made, the run goes on without it.
    """

    NAME = ".ftui-reserve"
    SIZE = 256 * 1024

    def __init__(self, folder: Path) -> None:
        self.path: Path | None = folder / self.NAME
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.SIZE)
            finally:
                os.close(fd)
        except (OSError, AttributeError):
            self.release()

    def release(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
            self.path = None


def final_metrics(
    epochs: list[dict[str, Any]], train_metrics: dict[str, Any] | None
) -> dict[str, Any]:
    """`metrics` from the per-epoch records (and the Trainer's own `train_runtime`)."""
    train = [(e["epoch"], e["train_loss"]) for e in epochs if e.get("train_loss") is not None]
    evals = [(e["epoch"], e["eval_loss"]) for e in epochs if e.get("eval_loss") is not None]
    ranked = evals or train
    runtime = (train_metrics or {}).get("train_runtime")
    return {
        "final_train_loss": train[-1][1] if train else None,
        "best_train_loss": min(v for _, v in train) if train else None,
        "final_eval_loss": evals[-1][1] if evals else None,
        "best_eval_loss": min(v for _, v in evals) if evals else None,
        "best_epoch": min(ranked, key=lambda item: item[1])[0] if ranked else None,
        "train_runtime": float(runtime) if isinstance(runtime, int | float) else None,
    }


_DISK_FULL_TEXTS = ("no space left on device", "os error 28", "errno 28", "file write failed")


def _disk_full(exc: BaseException, text: str) -> bool:
    """ENOSPC, however the library wrapped it (torch's zip writer says
    `enforce fail at inline_container.cc`, safetensors' Rust side `os error 28`)."""
    seen: BaseException | None = exc
    for _ in range(8):  # the exception chain, bounded
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        seen = seen.__cause__ or seen.__context__
    lowered = text.lower()
    return any(marker in lowered for marker in _DISK_FULL_TEXTS)


def describe_error(
    exc: BaseException, model: str | None = None, disk_full_file: str | None = None
) -> str:
    """One line naming the cause: what a user can act on, not a traceback."""
    name = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(exc).split()) or name
    if _disk_full(exc, text):
        where = getattr(exc, "filename", None) or disk_full_file or "the version"
        return f"disk full while writing {where}"
    if "out of memory" in text.lower() or name == "OutOfMemoryError":
        text = f"out of memory: {text} (try a smaller batch_size or max_length)"
    elif model is not None and isinstance(exc, OSError | ValueError | KeyError):
        text = f"cannot load base model {model}: {name}: {text}"
    elif not isinstance(exc, ValueError | OSError) or name not in text:
        text = f"{name}: {text}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


class Heartbeat:
    """Refreshes `run.heartbeat_at` every ~20 s from a daemon thread, off the training path,
    so a run whose process died shows as interrupted rather than running forever."""

    def __init__(self, path: Path, interval: float = HEARTBEAT_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ftui-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            try:
                update_metadata(self.path, _beat)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one retries
                continue


def _beat(record: dict[str, Any]) -> None:
    run = record.setdefault("run", {})
    if isinstance(run, dict):
        run["heartbeat_at"] = now_iso()
