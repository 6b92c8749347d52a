"""How much two adapters' updates agree, module by module, from their factors.

- cosine: ⟨ΔW₁, ΔW₂⟩_F / (‖ΔW₁‖·‖ΔW₂‖), the whole updates compared (same shape only);
- subspace similarity of the LoRA paper (Hu et al. 2021, §7):
  φ(i, j) = ‖U₁[:, :i]ᵀ U₂[:, :j]‖²_F / min(i, j), 1 when the top-i directions of one lie
  in the top-j of the other, about i·j/n (near 0) for unrelated ones. It works across ranks,
  which is the point: does r=8 learn what r=4 learned, plus more?
- principal angles between the top-k subspaces (k = the smaller rank).

Directions are computed for the input side (V, rows of A: what the LoRA paper compares)
and the output side (U, columns of B). Only r × r products are ever formed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base_weights import BaseWeights
from .lora_config import ModuleUpdate, module_updates
from .lora_factors import cross_cols, cross_rows
from .lora_spectrum import Directions, ModuleSpectrum, analyse_module
from .model import AdapterInfo
from .tensor_file import TensorFile, to_float64

GRID = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def grid_points(rank: int) -> tuple[int, ...]:
    """1, 2, 4, … up to the rank, and the rank itself."""
    points = [p for p in GRID if p < rank]
    return (*points, rank) if rank > 0 else ()


@dataclass(frozen=True, slots=True)
class Subspaces:
    """φ on a grid of (i, j), and the principal angles, for one side (input or output)."""

    rows: tuple[int, ...]  # i: how many of A's top directions
    cols: tuple[int, ...]  # j: how many of B's
    phi: tuple[tuple[float, ...], ...]  # phi[a][b] = φ(rows[a], cols[b])
    angles: tuple[float, ...]  # degrees, smallest first

    @property
    def top1(self) -> float:
        """φ(1, 1) = cos² of the angle between the two top directions."""
        return self.phi[0][0] if self.phi else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"i": list(self.rows), "j": list(self.cols), "phi": [list(r) for r in self.phi],
                "principal_angles_deg": list(self.angles), "top1": self.top1}  # fmt: skip


def subspaces(overlap: np.ndarray) -> Subspaces:
    """From M = U₁ᵀU₂ (q₁ × q₂, both in descending singular value order)."""
    q1, q2 = overlap.shape
    if q1 == 0 or q2 == 0:
        return Subspaces((), (), (), ())
    squares = np.cumsum(np.cumsum(overlap**2, axis=0), axis=1)
    rows, cols = grid_points(q1), grid_points(q2)
    phi = tuple(tuple(float(squares[i - 1, j - 1] / min(i, j)) for j in cols) for i in rows)
    k = min(q1, q2)
    cosines = np.clip(np.linalg.svd(overlap[:k, :k], compute_uv=False), -1.0, 1.0)
    angles = tuple(float(a) for a in np.degrees(np.arccos(cosines)))
    return Subspaces(rows, cols, phi, angles)


@dataclass(frozen=True, slots=True)
class ModuleComparison:
    """One module in either adapter: both spectra, and how the updates agree."""

    name: str
    a: ModuleSpectrum | None
    b: ModuleSpectrum | None
    cosine: float | None = None  # None: a side is missing or the shapes differ
    inputs: Subspaces | None = None
    outputs: Subspaces | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "module": self.name,
            "a": self.a.as_json() if self.a else None,
            "b": self.b.as_json() if self.b else None,
            "cosine": self.cosine,
            "input_subspaces": self.inputs.as_json() if self.inputs else None,
            "output_subspaces": self.outputs.as_json() if self.outputs else None,
        }


@dataclass
class _Side:
    tensors: TensorFile
    updates: dict[str, ModuleUpdate]
    base: BaseWeights | None

    def close(self) -> None:
        self.tensors.close()
        if self.base is not None:
            self.base.close()


def _open(adapter: AdapterInfo, config: Mapping[str, Any], base_folder: Path | None) -> _Side:
    updates = {u.name: u for u in module_updates(adapter, config)}
    needs_base = any(u.is_dora for u in updates.values())
    base = BaseWeights.find(base_folder) if needs_base else None
    return _Side(TensorFile(adapter), updates, base)


def _explicit(side: _Side, update: ModuleUpdate, dirs: Directions) -> tuple[np.ndarray, np.ndarray]:
    """U (out × q) and V (in × q) as matrices."""
    if dirs.dense:
        return dirs.out, dirs.inp
    b = to_float64(side.tensors.raw(update.b))
    a = to_float64(side.tensors.raw(update.a))
    return b @ dirs.out, a.T @ dirs.inp


def _dense_update(side: _Side, update: ModuleUpdate, spectrum: ModuleSpectrum,
                  dirs: Directions) -> np.ndarray:  # fmt: skip
    u, v = _explicit(side, update, dirs)
    return (u * np.asarray(spectrum.singular_values)[: u.shape[1]]) @ v.T


def compare_module(side_a: _Side, side_b: _Side, name: str) -> ModuleComparison:
    """Spectra of both sides, their cosine and subspace similarity."""
    ua, ub = side_a.updates.get(name), side_b.updates.get(name)
    ra = analyse_module(side_a.tensors, ua, side_a.base) if ua else None
    rb = analyse_module(side_b.tensors, ub, side_b.base) if ub else None
    if ua is None or ub is None or ra is None or rb is None:
        return ModuleComparison(name, ra[0] if ra else None, rb[0] if rb else None)
    (sa, da), (sb, db) = ra, rb
    cosine = inputs = outputs = None
    if ua.shape == ub.shape and "none" not in (sa.method, sb.method):
        if not da.dense and not db.dense:
            bb = cross_rows(side_a.tensors.raw(ua.b), side_b.tensors.raw(ub.b))
            aa = cross_cols(side_a.tensors.raw(ua.a), side_b.tensors.raw(ub.a))
            inner = ua.scale * ub.scale * float(np.sum(bb * aa))
            out_overlap = da.out.T @ bb @ db.out
            in_overlap = da.inp.T @ aa @ db.inp
        else:
            wa, wb = _dense_update(side_a, ua, sa, da), _dense_update(side_b, ub, sb, db)
            inner = float(np.sum(wa * wb))
            (u1, v1), (u2, v2) = _explicit(side_a, ua, da), _explicit(side_b, ub, db)
            out_overlap, in_overlap = u1.T @ u2, v1.T @ v2
        if sa.frobenius > 0 and sb.frobenius > 0:
            cosine = inner / (sa.frobenius * sb.frobenius)
        # Dense (DoRA) updates are full rank: compare their top-r directions.
        ka, kb = min(sa.rank, len(sa.singular_values)), min(sb.rank, len(sb.singular_values))
        outputs = subspaces(out_overlap[:ka, :kb])
        inputs = subspaces(in_overlap[:ka, :kb])
    return ModuleComparison(name, sa, sb, cosine, inputs, outputs)


def iter_comparison(
    a: AdapterInfo,
    config_a: Mapping[str, Any],
    b: AdapterInfo,
    config_b: Mapping[str, Any],
    base_a: Path | None = None,
    base_b: Path | None = None,
    stop: threading.Event | None = None,
) -> Iterator[ModuleComparison]:
    """Every module of either adapter (A's order, then B's own), compared as it is read."""
    side_a = _open(a, config_a, base_a)
    try:
        side_b = _open(b, config_b, base_b)
    except BaseException:
        side_a.close()
        raise
    try:
        for name in dict.fromkeys([*side_a.updates, *side_b.updates]):
            if stop is not None and stop.is_set():
                return
            yield compare_module(side_a, side_b, name)
    finally:
        side_a.close()
        side_b.close()


def overall_cosine(modules: list[ModuleComparison]) -> float | None:
    """The cosine of the whole adapters (all modules stacked), over the modules both have."""
    inner = norm_a = norm_b = 0.0
    for m in modules:
        if m.cosine is None or m.a is None or m.b is None:
            continue
        fa, fb = m.a.frobenius, m.b.frobenius
        inner += m.cosine * fa * fb
        norm_a += fa * fa
        norm_b += fb * fb
    if norm_a <= 0 or norm_b <= 0:
        return None
    return inner / float(np.sqrt(norm_a * norm_b))
