"""Per-module spectra of an adapter's updates: norms, effective rank, energy ranks.

For each adapted module: ‖ΔW‖_F, the spectral norm, all singular values (from the
factors, see `lora_factors`), the effective rank of Roy & Vetterli (2007) and how many
directions carry 90% / 99% of the energy (Σσ²). These answer "was r=64 wasted?":
an adapter whose 90% lies in 7 directions used about 7.

DoRA: where the base weights are on local disk the true merged update is formed (it is
full rank, so this module is dense), else the figure is s·B·A and its label says so.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .base_weights import BaseWeights
from .lora_config import LABEL_DORA, LABEL_DORA_APPROX, LABEL_LORA, ModuleUpdate, module_updates
from .lora_factors import NonFinite, low_rank_svd
from .model import AdapterInfo
from .tensor_file import TensorFile, to_float64


def effective_rank(values: np.ndarray | tuple[float, ...]) -> float:
    """exp of the entropy of σᵢ/Σσ (Roy & Vetterli 2007); 0 for a zero update."""
    sigma = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(sigma)):
        return math.nan
    sigma = sigma[sigma > 0]
    if sigma.size == 0:
        return 0.0
    p = sigma / sigma.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def energy_rank(values: np.ndarray | tuple[float, ...], fraction: float) -> int:
    """The fewest singular values whose squares add up to `fraction` of Σσ²."""
    energy = np.asarray(values, dtype=float) ** 2
    total = energy.sum()
    if not total > 0 or not math.isfinite(total):
        return 0
    cumulative = np.cumsum(np.sort(energy)[::-1])
    return int(np.searchsorted(cumulative, fraction * total * (1 - 1e-12)) + 1)


@dataclass(frozen=True, slots=True)
class ModuleSpectrum:
    """The update of one module, described by its singular values."""

    name: str
    kind: str
    shape: tuple[int, int]  # out × in
    rank: int
    alpha: float
    scale: float
    label: str  # what ΔW means here: s·B·A, or DoRA's merged update
    singular_values: tuple[float, ...]
    bias_norm: float | None = None  # ‖s·b‖ with lora_bias
    method: str = "gram"  # how the spectrum was computed: "gram", "qr" or "dense"
    notes: tuple[str, ...] = ()

    @property
    def frobenius(self) -> float:
        return math.sqrt(sum(s * s for s in self.singular_values))  # NaN stays NaN

    @property
    def spectral(self) -> float:
        return self.singular_values[0] if self.singular_values else 0.0

    @property
    def effective_rank(self) -> float:
        return effective_rank(self.singular_values)

    @property
    def energy90(self) -> int:
        return energy_rank(self.singular_values, 0.90)

    @property
    def energy99(self) -> int:
        return energy_rank(self.singular_values, 0.99)

    def as_json(self) -> dict[str, Any]:
        return {
            "module": self.name, "kind": self.kind, "shape": list(self.shape),
            "rank": self.rank, "alpha": self.alpha, "scale": self.scale, "label": self.label,
            "frobenius": self.frobenius, "spectral": self.spectral,
            "effective_rank": self.effective_rank, "energy90": self.energy90,
            "energy99": self.energy99, "singular_values": list(self.singular_values),
            "bias_norm": self.bias_norm, "method": self.method, "notes": list(self.notes),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class Directions:
    """Singular directions of one update, kept for comparisons.

    Low rank: U = B·p_out and V = Aᵀ·p_in (coefficients, r × q). Dense (DoRA with base
    weights): U and V themselves.
    """

    dense: bool
    out: np.ndarray
    inp: np.ndarray


def canonical_base(update: ModuleUpdate, stored: np.ndarray) -> np.ndarray | None:
    """The base weight in out × in orientation, or None when its shape does not fit.

    peft flips `fan_in_fan_out` per layer type, so a non-square weight's shape decides."""
    out, inp = update.shape
    if stored.shape == (out, inp) and (not update.transposed or out != inp):
        return stored
    if stored.shape == (inp, out):
        return stored.T
    return None


def dora_update(tensors: TensorFile, update: ModuleUpdate, base: np.ndarray) -> np.ndarray:
    """The merged DoRA update, out × in: diag(m/‖W₀+s·B·A‖_row)·(W₀ + s·B·A) − W₀."""
    assert update.magnitude is not None
    b, a = to_float64(tensors.raw(update.b)), to_float64(tensors.raw(update.a))
    low_rank = update.scale * (b @ a)
    merged = base + low_rank
    magnitude = to_float64(tensors.raw(update.magnitude))
    factor = magnitude / np.linalg.norm(merged, axis=1)
    return factor[:, None] * merged - base


def analyse_module(
    tensors: TensorFile, update: ModuleUpdate, base: BaseWeights | None
) -> tuple[ModuleSpectrum, Directions]:
    """The spectrum (and directions) of one module's update."""
    label, notes = LABEL_LORA, list(update.notes)
    bias_norm = None
    if update.bias is not None:
        bias_norm = abs(update.scale) * float(np.linalg.norm(to_float64(tensors.raw(update.bias))))
    dense_base = None
    if update.is_dora:
        label = LABEL_DORA_APPROX
        stored = base.weight(update.name) if base is not None else None
        if stored is not None:
            dense_base = canonical_base(update, stored)
            if dense_base is None:
                notes.append(f"base weight {list(stored.shape)} does not fit the adapter")
        elif base is not None:
            notes.append("base weight not found in the base model")
    try:
        if dense_base is not None:
            delta = dora_update(tensors, update, dense_base)
            if not np.all(np.isfinite(delta)):
                raise NonFinite("NaN or infinite values in the update")
            u, values, vt = np.linalg.svd(delta, full_matrices=False)
            directions = Directions(True, u, vt.T)
            label, method = LABEL_DORA, "dense"
        else:
            svd = low_rank_svd(tensors.raw(update.a), tensors.raw(update.b), update.scale)
            values, method = svd.singular_values, svd.method
            directions = Directions(False, svd.p_out, svd.p_in)
    except (NonFinite, np.linalg.LinAlgError) as exc:
        notes.append(str(exc))
        values, method = np.array([math.nan]), "none"
        empty = np.zeros((update.rank, 0))
        directions = Directions(False, empty, empty)
    spectrum = ModuleSpectrum(
        name=update.name,
        kind=update.kind,
        shape=update.shape,
        rank=update.rank,
        alpha=update.alpha,
        scale=update.scale,
        label=label,
        singular_values=tuple(float(v) for v in values),
        bias_norm=bias_norm,
        method=method,
        notes=tuple(notes),
    )
    return spectrum, directions


def iter_spectra(
    adapter: AdapterInfo,
    config: Mapping[str, Any],
    base_folder: Path | None = None,
    stop: threading.Event | None = None,
) -> Iterator[ModuleSpectrum]:
    """Each module's spectrum in turn, so a caller can show them as they come or stop."""
    updates = module_updates(adapter, config)
    needs_base = any(u.is_dora for u in updates)
    base = BaseWeights.find(base_folder) if needs_base else None
    try:
        with TensorFile(adapter) as tensors:
            for update in updates:
                if stop is not None and stop.is_set():
                    return
                yield analyse_module(tensors, update, base)[0]
    finally:
        if base is not None:
            base.close()


@dataclass(frozen=True, slots=True)
class AdapterSpectra:
    """Every module's spectrum, and what they add up to."""

    modules: tuple[ModuleSpectrum, ...]
    labels: tuple[str, ...] = field(default=())

    @property
    def total_norm(self) -> float:
        """‖ΔW‖ of the whole adapter: √Σ‖ΔWₘ‖²_F."""
        return math.sqrt(sum(m.frobenius**2 for m in self.modules))

    def summary(self) -> dict[str, Any]:
        """The figures across modules, for the one-paragraph summary and --json."""
        mods = self.modules
        if not mods:
            return {"modules": 0}
        ranks = sorted({m.rank for m in mods})
        k90 = sorted(m.energy90 for m in mods)
        k99 = sorted(m.energy99 for m in mods)
        eranks = [m.effective_rank for m in mods]
        largest = max(mods, key=lambda m: m.spectral)
        return {
            "modules": len(mods),
            "ranks": ranks,
            "labels": list(dict.fromkeys(m.label for m in mods)),
            "total_norm": self.total_norm,
            "mean_effective_rank": sum(eranks) / len(eranks),
            "median_energy90": k90[len(k90) // 2],
            "median_energy99": k99[len(k99) // 2],
            "max_energy90": k90[-1],
            "largest_spectral": largest.spectral,
            "largest_spectral_module": largest.name,
        }


def inspect_adapter(
    adapter: AdapterInfo, config: Mapping[str, Any], base_folder: Path | None = None
) -> AdapterSpectra:
    """Every module's spectrum (reads the tensors; the base model only for DoRA)."""
    modules = tuple(iter_spectra(adapter, config, base_folder))
    return AdapterSpectra(modules, tuple(dict.fromkeys(m.label for m in modules)))
