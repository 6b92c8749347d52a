"""Hugging Face environment: offline/telemetry/progress-bar switches and quiet logging.

The switches are read when the libraries are first imported, so `configure_environment`
runs before the first Hugging Face import; a value the user already set always wins.
`route_library_logs` sends the libraries' log records from the training thread to a
callback (the UI's log view) instead of stderr, which Textual would swallow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator

HF_MODULES = ("torch", "transformers", "peft", "trl", "datasets", "accelerate", "huggingface_hub")
LIBRARY_LOGGERS = ("transformers", "peft", "trl", "datasets", "accelerate", "huggingface_hub")

ALWAYS = {
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "DISABLE_MLFLOW_INTEGRATION": "TRUE",
    "WANDB_DISABLED": "true",
}

# Messages that say nothing actionable for a LoRA run (regular expressions).
SPURIOUS_WARNINGS = (
    r".*fan_in_fan_out.*",
    r".*torch_dtype.*deprecated.*",
    r".*use_cache=True.*incompatible with gradient checkpointing.*",
    r".*Could not find a config file in .* - will assume that the vocabulary was not modified.*",
    r".*Setting `pad_token_id` to `eos_token_id`.*",
    r".*The attention mask and the pad token id were not set.*",
    r".*padding-free training.*",
    r".*was not found in the model's config.*",
    r".*is_gradient_checkpointing.* is deprecated.*",
)

_quiet_done = False
_lock = threading.Lock()


def hf_imported() -> bool:
    """Whether any Hugging Face library is already imported (then switches come too late)."""
    return any(name in sys.modules for name in HF_MODULES[1:])


_offline_set_by_us = False


def configure_environment(offline: bool) -> None:
    """Set the switches (respecting the user's values) before the first HF import.

    `offline` is asked for when the model and data are local: then nothing needs the
    network and `HF_HUB_OFFLINE=1` stops every lookup (and the telemetry thread). A later
    run in the same process that needs the Hub undoes that switch (only ours, never one
    the user set); the libraries read it once at import, so their constant is set too.
    """
    global _offline_set_by_us
    for name, value in ALWAYS.items():
        os.environ.setdefault(name, value)
    user_set = not _offline_set_by_us and (
        "HF_HUB_OFFLINE" in os.environ or "TRANSFORMERS_OFFLINE" in os.environ
    )
    if user_set:
        return
    if offline and not _offline_set_by_us:
        os.environ["HF_HUB_OFFLINE"] = "1"
        _offline_set_by_us = True
        _set_library_offline(True)
    elif not offline and _offline_set_by_us:
        os.environ.pop("HF_HUB_OFFLINE", None)
        _offline_set_by_us = False
        _set_library_offline(False)


def _set_library_offline(value: bool) -> None:
    for module_name in ("huggingface_hub.constants", "datasets.config"):
        module = sys.modules.get(module_name)
        if module is not None and hasattr(module, "HF_HUB_OFFLINE"):
            setattr(module, "HF_HUB_OFFLINE", value)  # noqa: B010 - a module found at run time


def quiet_libraries() -> None:
    """Silence known spurious warnings (every run: a `catch_warnings` block around an
    earlier run may have dropped the filters) and progress bars (once per process)."""
    global _quiet_done
    for pattern in SPURIOUS_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)  # re-adding moves, never duplicates
    with _lock:
        if _quiet_done:
            return
        _quiet_done = True
    with contextlib.suppress(Exception):
        import transformers

        transformers.utils.logging.disable_progress_bar()
        if "TRANSFORMERS_VERBOSITY" not in os.environ:
            transformers.utils.logging.set_verbosity_warning()
    with contextlib.suppress(Exception):
        import datasets

        datasets.disable_progress_bars()
        datasets.utils.logging.set_verbosity_warning()
    with contextlib.suppress(Exception):
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


class _ThreadFilter(logging.Filter):
    """Drops (on the libraries' own handlers) the records of threads being routed."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread not in self.threads


class _RouteHandler(logging.Handler):
    def __init__(self, thread_id: int, emit: Callable[[str, str], None]) -> None:
        super().__init__(level=logging.INFO)
        self.thread_id = thread_id
        self.callback = emit

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread != self.thread_id:
            return
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad log call must not break training
            text = str(record.msg)
        for line in text.splitlines() or [""]:
            if line.strip():
                self.callback(line.rstrip(), record.levelname.lower())


_thread_filter = _ThreadFilter()


def refresh_log_filters() -> None:
    """Put the routing filter on every handler of the library loggers (and the root).

    Call again after importing a library: they add their own stderr handler on import.
    """
    with _lock:
        for name in (*LIBRARY_LOGGERS, ""):
            for existing in logging.getLogger(name).handlers:
                if (
                    not isinstance(existing, _RouteHandler)
                    and _thread_filter not in existing.filters
                ):
                    existing.addFilter(_thread_filter)


@contextlib.contextmanager
def route_library_logs(emit: Callable[[str, str], None] | None) -> Iterator[None]:
    """While active, log records of the libraries from this thread go to `emit(text, level)`
    and not to their stderr handlers. With `emit=None` nothing changes."""
    if emit is None:
        yield
        return
    thread_id = threading.get_ident()
    handler = _RouteHandler(thread_id, emit)
    loggers = [logging.getLogger(name) for name in LIBRARY_LOGGERS]
    with _lock:
        _thread_filter.threads.add(thread_id)
        for logger in loggers:
            logger.addHandler(handler)
    refresh_log_filters()
    try:
        yield
    finally:
        with _lock:
            _thread_filter.threads.discard(thread_id)
            for logger in loggers:
                logger.removeHandler(handler)


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from the launcher's environment (torchrun, accelerate launch)."""
    try:
        rank = int(os.environ.get("RANK", os.environ.get("LOCAL_RANK", "0")))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 0, 1
    return rank, max(world, 1)
