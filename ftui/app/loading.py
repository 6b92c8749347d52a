"""Plain functions the app's workers call: scanning, details, comparisons, following runs.

No Textual here: each function takes what it needs and returns data (or yields it, with
a `threading.Event` to stop early), so it can be tested and timed on its own.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from ftui.store import (
    LossHistory,
    RootError,
    Version,
    iter_versions,
    load_history,
    read_adapter,
    walk_files,
)
from ftui.store.fields import as_dict
from ftui.store.history import load_selection_history, with_history_metrics
from ftui.store.jsonio import ReadError
from ftui.store.liveness import running_problem

from .messages import ComparisonData, DetailsData

if TYPE_CHECKING:
    from ftui.store import Comparison
    from ftui.store.lora_math import UpdateStats

    from .selection import Selection

# Comparison and sizes are imported where they are used: the first frame needs neither.

FIRST_BATCH_S = 0.15  # show what has been read after this long, then the rest at the end
FIRST_SCREEN_BUDGET_S = 0.2  # at most this long reading the first screenful before a frame
MAX_FILES_SHOWN = 200


def scan_batches(root: Path, stop: threading.Event) -> Iterator[tuple[list[Version], bool]]:
    """Yield (versions so far, complete): one early batch for big folders, then all.

    Raises `RootError` when the root is unusable.
    """
    versions: list[Version] = []
    started = time.monotonic()
    sent_early = False
    for version in iter_versions(root):
        if stop.is_set():
            return
        versions.append(version)
        if not sent_early and time.monotonic() - started > FIRST_BATCH_S:
            sent_early = True
            yield list(versions), False
    yield versions, True


def first_screenful(
    root: Path, rows: int, budget_s: float = FIRST_SCREEN_BUDGET_S
) -> list[Version]:
    """The first `rows` versions in scan order (newest ids first), or what could be read
    in `budget_s`: few enough to read before the first frame, so that frame already
    lists them while a worker reads the rest. Empty when the root is unusable (the
    worker's full scan reports why)."""
    versions: list[Version] = []
    started = time.monotonic()
    try:
        for version in iter_versions(root):
            versions.append(version)
            if len(versions) >= rows or time.monotonic() - started > budget_s:
                break
    except RootError:
        return []
    return versions


def fill_metrics(versions: list[Version], stop: threading.Event) -> dict[str, Version]:
    """Versions whose missing losses could be filled from their histories, by id."""
    filled: dict[str, Version] = {}
    for version in versions:
        if stop.is_set():
            break
        if version.final_loss is not None:
            continue
        try:
            better = with_history_metrics(version)
        except Exception:  # an unreadable history: the loss simply stays unknown
            continue
        if better is not version:
            filled[version.id] = better
    return filled


def root_signature(root: Path) -> int | None:
    """A cheap fingerprint of the root: changes whenever an entry is added, removed or
    renamed (metadata writes are renames), so polling it finds new and updated versions."""
    try:
        return os.stat(root).st_mtime_ns
    except OSError:
        return None


def live_run_died(versions: Iterable[Version]) -> bool:
    """Whether a version shown running or queued has lost its process (killed, its
    machine rebooted). Nothing in the root changes when a process dies, so the poll asks
    this too; one /proc read per live version. The scanner's own test, on the same
    metadata: a rescan then shows it `interrupted`."""
    return any(
        version.status.live and running_problem(as_dict(version.metadata.get("run")))
        for version in versions
    )


def load_details(selection: Selection) -> DetailsData:
    """History, files and adapter of the selection (reads files; call from a worker)."""
    version, checkpoint = selection.version, selection.checkpoint
    from ftui.store.sizes import version_breakdown

    history, problems = load_history(version)
    folder = checkpoint.path if checkpoint else version.path
    entries, total = walk_files(folder, limit=MAX_FILES_SHOWN + 1)
    files = [(e.path, e.size) for e in entries[:MAX_FILES_SHOWN]]
    adapter = version.adapter
    texts = [str(p) for p in problems]
    if checkpoint is not None:
        try:
            adapter = read_adapter(checkpoint.path / "adapter_model.safetensors")
        except ReadError as exc:
            adapter = None
            texts.append(f"{checkpoint.name}/adapter_model.safetensors: {exc}")
    return DetailsData(
        selection=selection,
        history=history,
        problems=texts,
        files=files,
        total_size=total,
        more_files=len(entries) > MAX_FILES_SHOWN,
        adapter=adapter,
        breakdown=version_breakdown(version),
    )


def load_comparison(a: Selection, b: Selection) -> ComparisonData:
    """Both sides (headers only), their diff and their loss histories."""
    from ftui.store import compare, side_for

    started = time.perf_counter()
    comparison = compare(side_for(a.version, a.checkpoint), side_for(b.version, b.checkpoint))
    seconds = time.perf_counter() - started
    return ComparisonData(comparison, history_of(a), history_of(b), seconds)


def load_updates(comparison: Comparison) -> list[UpdateStats]:
    """Update norms and cosines of both sides (reads tensor data: numpy, memory-mapped)."""
    from ftui.store.lora_math import update_stats

    a, b = comparison.a, comparison.b
    return update_stats(a.adapter, a.adapter_config, b.adapter, b.adapter_config)


def history_of(selection: Selection) -> LossHistory:
    """A checkpoint's own history (up to its step), else the version's."""
    return load_selection_history(selection.version, selection.checkpoint)
