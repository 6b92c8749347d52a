"""Modules grouped by layer and type: the heatmap, per-type φ grids, checkpoint paths.

`transformer.h.3.attn.c_attn` is layer 3, type `attn.c_attn`; a module with no layer
number (`transformer.wte`) is its own type on a row of its own. Types keep as much of
the name as makes them distinct: GPT-2 has both `attn.c_proj` and `mlp.c_proj`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .lora_similarity import ModuleComparison, Subspaces
from .lora_spectrum import ModuleSpectrum

_LAYER = re.compile(r"\.(\d+)\.")
NO_LAYER = "-"

METRICS: dict[str, tuple[str, Callable[[ModuleSpectrum], float]]] = {
    "norm": ("‖ΔW‖_F", lambda m: m.frobenius),
    "spectral": ("‖ΔW‖₂ (spectral)", lambda m: m.spectral),
    "erank": ("effective rank", lambda m: m.effective_rank),
    "k90": ("directions for 90% energy", lambda m: float(m.energy90)),
    "k99": ("directions for 99% energy", lambda m: float(m.energy99)),
}


def layer_and_type(name: str) -> tuple[str, str]:
    """(`3`, `attn.c_attn`) for `transformer.h.3.attn.c_attn`; (`-`, name) without a layer."""
    match = _LAYER.search(name + ".")
    if match is None or match.end() > len(name):
        return NO_LAYER, name
    return match.group(1), name[match.end() :]


def short_types(types: Iterable[str]) -> dict[str, str]:
    """Each type's last component where those are distinct, else the full type."""
    full = list(dict.fromkeys(types))
    last = [t.rsplit(".", 1)[-1] for t in full]
    if len(set(last)) == len(last):
        return dict(zip(full, last, strict=True))
    return {t: t for t in full}


@dataclass(frozen=True, slots=True)
class Heatmap:
    """A metric per layer (rows) and module type (columns); None where not adapted."""

    metric: str
    title: str
    layers: tuple[str, ...]
    types: tuple[str, ...]
    values: tuple[tuple[float | None, ...], ...]

    def as_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "title": self.title, "layers": list(self.layers),
                "types": list(self.types), "values": [list(r) for r in self.values]}  # fmt: skip


def _layer_key(layer: str) -> tuple[int, int]:
    return (1, 0) if layer == NO_LAYER else (0, int(layer))


def heatmap(modules: Sequence[ModuleSpectrum], metric: str = "norm") -> Heatmap:
    """The layer × module-type table of one metric (see `METRICS`)."""
    title, value_of = METRICS[metric]
    cells: dict[tuple[str, str], float] = {}
    for module in modules:
        cells[layer_and_type(module.name)] = value_of(module)
    layers = sorted({layer for layer, _ in cells}, key=_layer_key)
    types = list(dict.fromkeys(t for _, t in cells))
    values = tuple(tuple(cells.get((layer, t)) for t in types) for layer in layers)
    return Heatmap(metric, title, tuple(layers), tuple(types), values)


@dataclass(frozen=True, slots=True)
class TypeSimilarity:
    """φ averaged over the layers of one module type, and its top-1 figure."""

    type: str
    modules: int
    cosine: float | None  # mean cosine over the type's modules
    inputs: Subspaces
    outputs: Subspaces

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "modules": self.modules, "mean_cosine": self.cosine,
                "input_subspaces": self.inputs.as_json(),
                "output_subspaces": self.outputs.as_json()}  # fmt: skip


def _mean_subspaces(items: list[Subspaces]) -> Subspaces:
    shapes = {(s.rows, s.cols) for s in items}
    first = items[0]
    if len(shapes) != 1:  # ranks differ within the type: keep the common top-1 only
        top1 = sum(s.top1 for s in items) / len(items)
        return Subspaces((1,), (1,), ((top1,),), ())
    phi = tuple(
        tuple(sum(s.phi[a][b] for s in items) / len(items) for b in range(len(first.cols)))
        for a in range(len(first.rows))
    )
    angles = tuple(sum(s.angles[k] for s in items) / len(items) for k in range(len(first.angles)))
    return Subspaces(first.rows, first.cols, phi, angles)


def by_type(comparisons: Iterable[ModuleComparison]) -> list[TypeSimilarity]:
    """φ grids averaged over layers, one per module type present on both sides."""
    groups: dict[str, list[ModuleComparison]] = {}
    for m in comparisons:
        if m.inputs is not None and m.outputs is not None and m.inputs.phi:
            groups.setdefault(layer_and_type(m.name)[1], []).append(m)
    result = []
    for kind, items in groups.items():
        cosines = [m.cosine for m in items if m.cosine is not None]
        result.append(
            TypeSimilarity(
                kind,
                len(items),
                sum(cosines) / len(cosines) if cosines else None,
                _mean_subspaces([m.inputs for m in items if m.inputs is not None]),
                _mean_subspaces([m.outputs for m in items if m.outputs is not None]),
            )
        )
    return result


@dataclass(frozen=True, slots=True)
class TrajectoryPoint:
    """One checkpoint on the way to the final adapter."""

    label: str
    norm: float  # ‖ΔW‖ of the whole adapter at this checkpoint
    cosine_to_final: float | None

    def as_json(self) -> dict[str, Any]:
        return {"checkpoint": self.label, "norm": self.norm, "cosine": self.cosine_to_final}


def total_norm(modules: Iterable[ModuleSpectrum | None]) -> float:
    return math.sqrt(sum(m.frobenius**2 for m in modules if m is not None))
