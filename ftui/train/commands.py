"""`ftui train` and `ftui retrain`: argument definitions and handlers for the CLI.

Exit codes: 0 completed, 1 failed, 2 bad arguments or settings, 130 cancelled. Progress
and log lines go to stderr; the new version id is the last line on stdout, so scripts
can capture it. Ctrl+C stops cooperatively after the current step (the version is kept,
marked cancelled); a second Ctrl+C aborts at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TextIO

from ftui.store.model import Status

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
EXIT_CODES = {Status.COMPLETED: EXIT_COMPLETED, Status.CANCELLED: EXIT_CANCELLED}  # else failed
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
    parser.add_argument(
        "--detach", action="store_true",
        help="run in the background, detached from the terminal (output: train.log in the "
        "version folder); prints the version id and returns",
    )  # fmt: skip
    parser.add_argument(
        "--devices", default=None, metavar="0,1",
        help="GPU indices to train on (CUDA_VISIBLE_DEVICES); runs on the same device queue",
    )  # fmt: skip
    # The process a detached launch starts: train into this claimed version.
    parser.add_argument("--run-version", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--resume-checkpoint", default=None, help=argparse.SUPPRESS)


# The flags `ftui retrain` takes too: how to launch is not part of what was trained.
LAUNCH_FLAGS = ("--nproc-per-node", "--nnodes", "--rdzv-endpoint", "--accelerate-config")


def _add_spec_flags(parser: argparse.ArgumentParser, flags: Iterable[str]) -> None:
    for flag in flags:
        name, text = TRAIN_FLAGS[flag]
        aliases = [flag, *FLAG_ALIASES.get(flag, [])]
        parser.add_argument(
            *aliases, dest=f"spec_{name}", default=None, metavar=name.upper(), help=text
        )


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The spec settings given as flags (`--r 16` -> `{"r": "16"}`)."""
    overrides: dict[str, Any] = {}
    for name, _text in TRAIN_FLAGS.values():
        value = getattr(args, f"spec_{name}", None)
        if value is not None:
            overrides[name] = value
    return overrides


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `ftui train`."""
    _add_spec_flags(parser, TRAIN_FLAGS)
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
    _add_spec_flags(parser, LAUNCH_FLAGS)
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
            with suppress(OSError, ValueError):  # the terminal may have gone (SIGHUP)
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


# SIGTERM (`ftui cancel`, `kill`, a job scheduler) and SIGHUP (the terminal went away)
# end a run the same clean way as a first Ctrl+C: after the current step, status cancelled.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def signals_stop(stop: threading.Event, stream: TextIO | None) -> Iterator[None]:
    """First Ctrl+C, SIGTERM or SIGHUP sets `stop`; a second Ctrl+C raises
    KeyboardInterrupt (abort now). Only the main thread can install handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def say(text: str) -> None:
        if stream is not None:
            with suppress(OSError, ValueError):  # a hung-up terminal cannot be written to
                print(text, file=stream, flush=True)

    def on_interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        stop.set()
        say("stopping after the current step (Ctrl+C again to abort)")

    def on_stop(signum: int, frame: Any) -> None:
        if not stop.is_set():
            stop.set()
            say(f"{signal.Signals(signum).name}: stopping after the current step")

    previous = {signal.SIGINT: signal.signal(signal.SIGINT, on_interrupt)}
    for number in STOP_SIGNALS:
        previous[number] = signal.signal(number, on_stop)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run_spec(
    spec: RunSpec,
    quiet: bool = False,
    run: Callable[..., Any] | None = None,
    attach: Any = None,
    stream: TextIO | None = None,
) -> int:
    """Train `spec` in this thread, printing progress; returns the exit code.

    `attach` (an `engine.Attach`): train into a version a launcher claimed, or resume one.
    """
    if attach is None:  # an attached run records a bad spec in its version instead
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
    stream = stream or sys.stderr
    printer = _Printer(quiet, stream)
    with signals_stop(stop, stream):
        if attach is None:
            result = run(spec, on_event=printer, stop=stop)
        else:
            attached: Callable[..., Any] = run
            result = attached(spec, on_event=printer, stop=stop, attach=attach)
    if result.version_id and distributed_rank()[0] == 0:  # under torchrun: once, not per rank
        print(result.version_id, flush=True)
    if result.status is Status.FAILED and result.version_id is None:
        return EXIT_USAGE  # refused before anything ran (device, precision, model, data)
    return EXIT_CODES.get(result.status, EXIT_FAILED)


def build_train_spec(args: argparse.Namespace) -> RunSpec:
    """The spec `ftui train` asks for: defaults, then flags, then `--set` pairs."""
    overrides = _flag_overrides(args)
    overrides.update(parse_settings(list(getattr(args, "settings", []) or [])))
    return RunSpec.defaults(_root(args)).with_overrides(overrides)


def run_here(spec: RunSpec, devices: list[int] | None, quiet: bool) -> int:
    """A foreground run: at once when its device is free; else it claims its version,
    shows as queued and waits its turn (see `ftui.runs.queue`)."""
    from pathlib import Path

    from ftui.runs.queue import try_lease

    try:
        spec.validate()
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if distributed_rank()[1] > 1:  # a rank under torchrun: its launcher owns the devices
        return run_spec(spec, quiet=quiet)
    spec = spec.normalized()
    root = Path(spec.root)
    try:
        lease = try_lease(root, devices)
    except OSError:  # an unusable root: the engine says why in its own words
        return run_spec(spec, quiet=quiet)
    if lease is not None:
        try:
            return run_spec(spec, quiet=quiet)
        finally:
            lease.release()
    from ftui.runs.child import run_version
    from ftui.runs.launch import claim_queued

    version_id = claim_queued(spec, devices, launch="foreground")
    return run_version(root, version_id, None, quiet, launch="foreground")


def run_train_command(args: argparse.Namespace) -> int:
    """`ftui train …`"""
    if getattr(args, "run_version", None):
        from pathlib import Path

        from ftui.runs.child import run_version

        resume = getattr(args, "resume_checkpoint", None)
        return run_version(Path(_root(args)), args.run_version, resume, args.quiet)
    try:
        spec = build_train_spec(args)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return start(spec, args)


def start(spec: RunSpec, args: argparse.Namespace) -> int:
    """Run `spec` here (on `--devices`), or launch it detached with `--detach`."""
    from ftui.runs.launch import device_env, launch, parse_devices

    try:
        devices = parse_devices(getattr(args, "devices", None))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    quiet = getattr(args, "quiet", False)
    if not getattr(args, "detach", False):
        os.environ.update(device_env(devices))  # before torch is imported
        return run_here(spec, devices, quiet)
    from ftui.store.writer import WriteError

    try:
        launched = launch(spec, devices)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (WriteError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not getattr(args, "quiet", False):
        print(
            f"{launched.version_id}: running in the background (pid {launched.pid}); "
            f"log: {launched.log}; stop it with `ftui cancel {launched.version_id}`",
            file=sys.stderr,
        )
    print(launched.version_id, flush=True)
    return EXIT_COMPLETED


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
            overrides={
                **_flag_overrides(args),
                **parse_settings(list(getattr(args, "settings", []) or [])),
            },
            continue_training=bool(getattr(args, "continue_training", False)),
        )
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return start(spec, args)


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
