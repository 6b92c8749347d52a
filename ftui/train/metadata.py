"""The metadata a run writes (docs/format.md), its final metrics, and its heartbeat.

Pure standard library plus `ftui.store.writer`: metadata is only ever written through
the store's atomic, locked writers.
"""

from __future__ import annotations

import errno
import platform
import socket
import threading
from datetime import datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

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


def initial_metadata(model_name: str, prepared: Any, version_id: str) -> dict[str, Any]:
    """The first metadata of a run (status `running`): everything known before training."""
    spec, examples = prepared.spec, prepared.examples
    started = now_iso()
    parent = None
    if spec.parent:
        parent = {
            "version_id": spec.parent,
            "checkpoint": spec.parent_checkpoint,
            "mode": "continue" if spec.continue_from_parent else "fresh",
        }
    return {
        "timestamp": started,
        "model_name": model_name,
        "lora_config": {k: prepared.lora.get(k) for k in LORA_KEYS},
        "num_samples": examples.num_train,
        "num_epochs": spec.epochs,
        "status": "running",
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
        "run": {
            "pid": _pid(),
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


def _pid() -> int:
    import os

    return os.getpid()


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


def describe_error(exc: BaseException, model: str | None = None) -> str:
    """One line naming the cause: what a user can act on, not a traceback."""
    name = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"disk full while writing {exc.filename or 'the version'}"
    text = " ".join(str(exc).split()) or name
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
