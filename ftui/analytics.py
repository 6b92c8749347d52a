"""LoRA analytics of stored versions: what `ftui inspect`, `ftui compare` and the app show.

Glue between the store's maths (`ftui.store.lora_*`, numpy only) and versions on disk:
which adapter a version or checkpoint names, and where its base model lies (for DoRA,
whose true update needs the base weights). Plain functions, usable from a worker thread;
long ones yield as they go and take a `threading.Event` to stop early.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ftui.store import AdapterInfo, Checkpoint, ReadError, Side, Version, side_for
from ftui.store.lora_grouping import TrajectoryPoint, total_norm
from ftui.store.lora_similarity import ModuleComparison, iter_comparison, overall_cosine
from ftui.store.lora_spectrum import AdapterSpectra, ModuleSpectrum, iter_spectra


def base_folder(side: Side) -> Path | None:
    """The local folder of the side's base model, if it is one (`ftui:` references too)."""
    from ftui.train.paths import local_path

    for name in (side.adapter_config.get("base_model_name_or_path"), side.version.base_model):
        if isinstance(name, str) and name.strip():
            try:
                path = local_path(name.strip())
            except (OSError, ValueError):
                path = None
            if path is not None and path.is_dir():
                return path
    return None


def _adapter_of(side: Side) -> AdapterInfo:
    if side.adapter is None:
        raise ReadError(side.error or f"{side.label}: no adapter weights")
    return side.adapter


def iter_side_spectra(side: Side, stop: threading.Event | None = None) -> Iterator[ModuleSpectrum]:
    """Each module's spectrum of one version or checkpoint, as it is computed."""
    yield from iter_spectra(_adapter_of(side), side.adapter_config, base_folder(side), stop)


def inspect_side(side: Side) -> AdapterSpectra:
    modules = tuple(iter_side_spectra(side))
    return AdapterSpectra(modules, tuple(dict.fromkeys(m.label for m in modules)))


def iter_side_comparison(
    a: Side, b: Side, stop: threading.Event | None = None
) -> Iterator[ModuleComparison]:
    """Each module of either side, compared as it is read."""
    yield from iter_comparison(
        _adapter_of(a), a.adapter_config, _adapter_of(b), b.adapter_config,
        base_folder(a), base_folder(b), stop,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Trajectory:
    """How a version's update grew (‖ΔW‖) and turned (cosine to the final) over checkpoints."""

    points: tuple[TrajectoryPoint, ...]
    skipped: tuple[str, ...] = ()  # checkpoints that could not be read, with the reason


def checkpoint_trajectory(
    version: Version, stop: threading.Event | None = None
) -> Trajectory | None:
    """Per checkpoint: ‖ΔW‖ and the cosine to the version's final adapter.

    None when the version has no checkpoints or no final adapter.
    """
    if not version.checkpoints or version.adapter is None:
        return None
    final = side_for(version)
    sides: list[tuple[str, Checkpoint | None]] = [(c.name, c) for c in version.checkpoints]
    points, skipped = [], []
    for label, checkpoint in sides:
        if stop is not None and stop.is_set():
            break
        side = side_for(version, checkpoint)
        if side.adapter is None:
            skipped.append(f"{label}: {side.error or 'no adapter'}")
            continue
        try:
            modules = list(iter_side_comparison(side, final, stop))
        except ReadError as exc:
            skipped.append(f"{label}: {exc}")
            continue
        points.append(TrajectoryPoint(label, total_norm(m.a for m in modules),
                                      overall_cosine(modules)))  # fmt: skip
    return Trajectory(tuple(points), tuple(skipped))
