"""`ftui train` and `ftui retrain`: argument definitions and handlers for the CLI.

Exit codes: 0 completed, 1 failed, 2 bad arguments or settings, 130 cancelled. Progress
and log lines go to stderr; the new version id is the last line on stdout, so scripts
can capture it. Ctrl+C stops cooperatively after the current step (the version is kept,
marked cancelled); a second Ctrl+C aborts at once.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from .events import (
    Cancelled,
    EpochSaved,
    Event,
    Failed,
    Finished,
    LogLine,
    Metrics,
    Progress,
    Started,
)
from .hf_env import distributed_rank
from .metrics import metric_line
from .spec import RunSpec, SpecError

EXIT_COMPLETED, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130
DEFAULT_ROOT = "model_versions"
PROGRESS_EVERY_S = 2.0

# flag -> spec field (values go through RunSpec.with_overrides, so parsing is one place)
TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "--base-model": ("base_model", "local model folder, Hub id, or ftui:tiny-gpt2 (default)"),
    "--data": ("data", ".jsonl/.json/.txt file or folder (default: the bundled demo data)"),
    "--eval-data": ("eval_data", "evaluation file or folder ('none' for no eval set)"),
    "--eval-split": ("eval_split", "fraction of --data held out for eval when no --eval-data"),
    "--text-field": ("text_field", "JSON field holding the text (default: text)"),
    "--r": ("r", "LoRA rank"),
    "--alpha": ("alpha", "LoRA alpha"),
    "--dropout": ("dropout", "LoRA dropout"),
    "--target-modules": (
        "target_modules",
        "comma-separated module names (default: per architecture)",
    ),
    "--epochs": ("epochs", "number of epochs"),
    "--lr": ("learning_rate", "learning rate"),
    "--batch-size": ("batch_size", "batch size per device"),
    "--grad-accum": ("grad_accum", "gradient accumulation steps"),
    "--max-length": ("max_length", "maximum tokens per example"),
    "--seed": ("seed", "random seed"),
    "--precision": ("precision", "auto, fp32, bf16 or fp16 (auto: bf16 where supported)"),
    "--device": ("device", "auto, cpu or cuda"),
    "--nproc-per-node": (
        "nproc_per_node",
        "processes per node, usually one per GPU: more than 1 launches torchrun",
    ),
    "--nnodes": ("nnodes", "nodes taking part (more than 1 needs --rdzv-endpoint)"),
    "--rdzv-endpoint": ("rdzv_endpoint", "HOST:PORT of the rendezvous (multi-node runs)"),
    "--accelerate-config": (
        "accelerate_config",
        "an `accelerate config` file (FSDP, DeepSpeed): runs through `accelerate launch`",
    ),
}
# Spellings other tools use for the same flags.
FLAG_ALIASES: dict[str, list[str]] = {
    "--lr": ["--learning-rate"],
    "--nproc-per-node": ["--nproc_per_node"],
    "--rdzv-endpoint": ["--rdzv_endpoint"],
    "--accelerate-config": ["--accelerate_config"],
}


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None, help=f"version root (default: ./{DEFAULT_ROOT})")
    parser.add_argument(
        "--set", dest="settings", metavar="KEY=VALUE", action="extend", nargs="+", default=[],
        help="any spec setting, e.g. --set r=16 learning_rate=1e-4 epochs=3",
    )  # fmt: skip
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the version id")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `ftui train`."""
    for flag, (name, text) in TRAIN_FLAGS.items():
        aliases = [flag, *FLAG_ALIASES.get(flag, [])]
        parser.add_argument(
            *aliases, dest=f"spec_{name}", default=None, metavar=name.upper(), help=text
        )
    _add_common(parser)


def add_retrain_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `ftui retrain VERSION`."""
    # optional here only so `--set r=16 VERSION` works: `--set` takes every word after it
    # (see take_version); a missing version is still an error
    parser.add_argument(
        "version", nargs="?", help="the version to retrain: id, alias or ID:checkpoint-N"
    )
    parser.add_argument("--from-checkpoint", metavar="N", default=None,
                        help="start from checkpoint-N of that version (a step number)")  # fmt: skip
    parser.add_argument(
        "--continue", dest="continue_training", action="store_true",
        help="continue from the version's adapter weights, not the base model",
    )  # fmt: skip
    _add_common(parser)


def parse_settings(pairs: list[str]) -> dict[str, str]:
    """`["r=16", "lr=1e-4"]` -> `{"r": "16", "lr": "1e-4"}`; raises SpecError."""
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--set {pair!r}: expected KEY=VALUE")
        RunSpec.settable_name(key)  # unknown or flag-only keys fail here, naming the key
        settings[key.strip()] = value
    return settings


def _root(args: argparse.Namespace) -> str:
    return getattr(args, "root", None) or DEFAULT_ROOT


class _Printer:
    """Turns events into terminal lines (stderr), throttling progress."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self._last_progress = 0.0
        self._metrics: Metrics | None = None

    def __call__(self, event: Event) -> None:
        line = self.format(event)
        if line is not None and (not self.quiet or isinstance(event, Failed)):
            print(line, file=self.stream, flush=True)

    def format(self, event: Event) -> str | None:
        if isinstance(event, LogLine):
            return event.text if event.level in ("info", "") else f"{event.level}: {event.text}"
        if isinstance(event, Metrics):
            self._metrics = event  # shown with the next progress line
            return None
        if isinstance(event, Progress):
            now = time.monotonic()
            if event.step != event.total and now - self._last_progress < PROGRESS_EVERY_S:
                return None
            self._last_progress = now
            eta = f", {event.eta_s:.0f}s left" if event.eta_s is not None else ""
            epoch = f" (epoch {event.epoch:.2f})" if event.epoch is not None else ""
            metrics = metric_line(self._metrics)
            return f"step {event.step}/{event.total}{epoch}{eta}" + (
                f" · {metrics}" if metrics else ""
            )
        if isinstance(event, Started):
            parent = f" from {event.parent}" if event.parent else ""
            return f"version {event.version_id}{parent}: {event.path}"
        if isinstance(event, Failed):
            return f"error: {event.error}"
        if isinstance(event, EpochSaved | Finished | Cancelled):
            return None  # the engine logs a line for each of these
        return None


@contextmanager
def _ctrl_c_stops(stop: threading.Event, stream: TextIO) -> Iterator[None]:
    """First Ctrl+C sets `stop`; the second raises KeyboardInterrupt (abort now)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        print("stopping after the current step (Ctrl+C again to abort)", file=stream, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_spec(spec: RunSpec, quiet: bool = False, run: Callable[..., Any] | None = None) -> int:
    """Train `spec` in this thread, printing progress; returns the exit code."""
    try:
        spec.validate()
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if run is None:
        from .launch import run_launched, under_launcher

        if spec.needs_launcher and not under_launcher():
            run = run_launched  # torchrun / accelerate launch, then follow rank 0
        else:
            from .engine import run_training

            run = run_training
    stop = threading.Event()
    printer = _Printer(quiet)
    with _ctrl_c_stops(stop, sys.stderr):
        result = run(spec, on_event=printer, stop=stop)
    if result.version_id and distributed_rank()[0] == 0:  # under torchrun: once, not per rank
        print(result.version_id, flush=True)
    if result.status == "failed" and result.version_id is None:
        return EXIT_USAGE  # refused before anything ran (device, precision, model, data)
    return {"completed": EXIT_COMPLETED, "cancelled": EXIT_CANCELLED}.get(
        result.status, EXIT_FAILED
    )


def build_train_spec(args: argparse.Namespace) -> RunSpec:
    """The spec `ftui train` asks for: defaults, then flags, then `--set` pairs."""
    overrides: dict[str, Any] = {}
    for _flag, (name, _text) in TRAIN_FLAGS.items():
        value = getattr(args, f"spec_{name}", None)
        if value is not None:
            overrides[name] = value
    overrides.update(parse_settings(list(getattr(args, "settings", []) or [])))
    return RunSpec.defaults(_root(args)).with_overrides(overrides)


def run_train_command(args: argparse.Namespace) -> int:
    """`ftui train …`"""
    try:
        spec = build_train_spec(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_spec(spec, quiet=getattr(args, "quiet", False))


def take_version(args: argparse.Namespace) -> str:
    """The VERSION of `ftui retrain`, also when `--set` swallowed it (`--set r=16 ID`: the
    one word in the settings without `=`); raises SpecError when there is none."""
    settings = list(getattr(args, "settings", []) or [])
    loose = [word for word in settings if "=" not in word]
    if args.version is None and len(loose) == 1 and settings[-1] == loose[0]:
        args.version = settings.pop()
        args.settings = settings
    if args.version is None:
        raise SpecError("which version? ftui retrain VERSION [--set KEY=VALUE …]")
    return str(args.version)


def run_retrain_command(args: argparse.Namespace) -> int:
    """`ftui retrain VERSION …`"""
    from pathlib import Path

    from ftui.store.aliases import expand_alias

    from .retrain import spec_for_retrain

    try:
        version, named_checkpoint = expand_alias(Path(_root(args)), take_version(args))
        spec = spec_for_retrain(
            Path(_root(args)),
            version,
            checkpoint=getattr(args, "from_checkpoint", None) or named_checkpoint,
            overrides=parse_settings(list(getattr(args, "settings", []) or [])),
            continue_training=bool(getattr(args, "continue_training", False)),
        )
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return run_spec(spec, quiet=getattr(args, "quiet", False))


def main(argv: list[str] | None = None) -> int:
    """`ftui train|retrain …` (also `python -m ftui.train.commands train|retrain …`)."""
    parser = argparse.ArgumentParser(prog="ftui")
    commands = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(commands.add_parser("train", help="train a new LoRA version"))
    add_retrain_arguments(commands.add_parser("retrain", help="retrain from a version"))
    args = parser.parse_args(argv)
    handler = run_train_command if args.command == "train" else run_retrain_command
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
