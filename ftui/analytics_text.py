"""Plain-text views of the LoRA analytics, shared by `ftui inspect/compare` and the app.

Every figure is written as a number; shading (░▒▓█) only repeats what the number says,
so the views read the same under NO_COLOR, in a log file or over a slow SSH link.
Module names come from untrusted files: they pass through `one_line` before display.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

from ftui.store.lora_grouping import Heatmap, TrajectoryPoint, TypeSimilarity, short_types
from ftui.store.lora_similarity import ModuleComparison, Subspaces
from ftui.store.lora_spectrum import AdapterSpectra, ModuleSpectrum
from ftui.store.text import one_line

SHADES = " ░▒▓█"
MAX_SIGMAS = 4  # singular values listed per module in the table


def num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.{digits}g}"


def shade(value: float | None, top: float) -> str:
    if value is None or top <= 0:
        return " "
    index = min(len(SHADES) - 1, max(0, math.ceil(value / top * (len(SHADES) - 1))))
    return SHADES[index]


def common_prefix(names: Sequence[str]) -> str:
    """The dotted prefix all names share (`transformer.h.`), printed once."""
    if len(names) < 2:
        return ""
    common = os.path.commonprefix(list(names))
    return common[: common.rfind(".") + 1]


def directions_phrase(module: ModuleSpectrum | None = None, *, rank: int = 0,
                      k90: int = 0) -> str:  # fmt: skip
    """`r=64, 90% in 7 directions`."""
    if module is not None:
        rank, k90 = module.rank, module.energy90
    return f"r={rank}, 90% in {k90} direction{'s' if k90 != 1 else ''}"


def summary_lines(spectra: AdapterSpectra) -> list[str]:
    """The adapter in three lines: size, how much of the rank is used, what ΔW means."""
    s = spectra.summary()
    if not s.get("modules"):
        return ["no LoRA modules"]
    ranks = "/".join(str(r) for r in s["ranks"])
    lines = [
        f"{s['modules']} modules, r={ranks}, total ‖ΔW‖ {num(s['total_norm'], 4)}, "
        f"mean effective rank {s['mean_effective_rank']:.2f}",
        f"90% of the energy in {s['median_energy90']} directions (median; at most "
        f"{s['max_energy90']}), 99% in {s['median_energy99']}",
        f"largest spectral norm {num(s['largest_spectral'], 4)} "
        f"({one_line(s['largest_spectral_module'], 60)})",
    ]
    lines.append("ΔW = " + "; ".join(s["labels"]))
    return lines


def module_lines(modules: Sequence[ModuleSpectrum]) -> list[str]:
    """One row per module: r, ‖ΔW‖_F, ‖ΔW‖₂, effective rank, 90%/99% counts, top σ."""
    prefix = common_prefix([m.name for m in modules])
    names = [one_line(m.name[len(prefix) :], 40) for m in modules]
    width = max([len("module"), *map(len, names)])
    head = (
        f"{'module':<{width}} {'r':>3} {'‖ΔW‖_F':>8} {'‖ΔW‖₂':>8} {'erank':>5} "
        f"{'90%':>3} {'99%':>3}  σ"
    )
    lines = [f"modules ({one_line(prefix, 40)}…)" if prefix else "modules", head]
    for name, m in zip(names, modules, strict=True):
        sigmas = " ".join(num(v, 3) for v in m.singular_values[:MAX_SIGMAS])
        more = " …" if len(m.singular_values) > MAX_SIGMAS else ""
        lines.append(
            f"{name:<{width}} {m.rank:>3} {num(m.frobenius, 4):>8} {num(m.spectral, 4):>8} "
            f"{m.effective_rank:>5.2f} {m.energy90:>3} {m.energy99:>3}  {sigmas}{more}"
        )
        for note in m.notes:
            lines.append(f"{'':<{width}}   ⚠ {one_line(note, 70)}")
    return lines


def heatmap_lines(heat: Heatmap, cell: int = 7) -> list[str]:
    """Layers down, module types across; each cell a shade and the number."""
    if not heat.types:
        return []
    short = short_types(heat.types)
    names = [one_line(short[t], cell) for t in heat.types]
    width = max(cell, *map(len, names))
    present = [v for row in heat.values for v in row if v is not None]
    top = max(present, default=0.0)
    lines = [f"{heat.title} by layer × module (█ = {num(top, 4)})"]
    lines.append("layer " + " ".join(f"{n:>{width}}" for n in names))
    for layer, row in zip(heat.layers, heat.values, strict=True):
        cells = []
        for value in row:
            text = "" if value is None else num(value, 3)
            cells.append(f"{shade(value, top)}{text:>{width - 1}}")
        lines.append(f"{layer:<5} " + " ".join(cells))
    return lines


def phi_grid_lines(title: str, subspaces: Subspaces) -> list[str]:
    """The φ(i, j) grid: i = A's top directions (rows), j = B's (columns)."""
    if not subspaces.phi:
        return []
    lines = [title, "  i\\j " + "".join(f"{j:>6}" for j in subspaces.cols)]
    for i, row in zip(subspaces.rows, subspaces.phi, strict=True):
        lines.append(f"{i:>5} " + "".join(f"{shade(v, 1.0)}{v:>5.2f}" for v in row))
    return lines


def comparison_lines(modules: Sequence[ModuleComparison]) -> list[str]:
    """One row per module: both norms, the cosine and how much the top direction is shared."""
    prefix = common_prefix([m.name for m in modules])
    names = [one_line(m.name[len(prefix) :], 34) for m in modules]
    width = max([len("module"), *map(len, names)])
    lines = [f"modules ({one_line(prefix, 40)}…)" if prefix else "modules",
             f"{'module':<{width}} {'rA':>3} {'rB':>3} {'‖ΔW‖ A':>8} {'‖ΔW‖ B':>8} "
             f"{'cos':>6} {'top-1':>5} {'φ(rA,rB)':>8}"]  # fmt: skip
    for name, m in zip(names, modules, strict=True):
        top1 = f"{m.inputs.top1:.2f}" if m.inputs and m.inputs.phi else "—"
        last = f"{m.inputs.phi[-1][-1]:.2f}" if m.inputs and m.inputs.phi else "—"
        cosine = "—" if m.cosine is None else f"{m.cosine:+.3f}"
        lines.append(
            f"{name:<{width}} {m.a.rank if m.a else '—':>3} {m.b.rank if m.b else '—':>3} "
            f"{num(m.a.frobenius if m.a else None, 4):>8} "
            f"{num(m.b.frobenius if m.b else None, 4):>8} {cosine:>6} {top1:>5} {last:>8}"
        )
    return lines


def type_lines(types: Sequence[TypeSimilarity]) -> list[str]:
    """Per module type: `top-1 direction shared: 0.93` and the φ grid of input directions."""
    lines: list[str] = []
    short = short_types([t.type for t in types])
    for t in types:
        cosine = "—" if t.cosine is None else f"{t.cosine:+.3f}"
        lines.append(
            f"{one_line(short[t.type], 40)} ({t.modules} module{'s' if t.modules != 1 else ''}): "
            f"top-1 direction shared: {t.inputs.top1:.2f} (outputs {t.outputs.top1:.2f}), "
            f"mean cosine {cosine}"
        )
        lines += phi_grid_lines("  φ(i, j), input directions, mean over layers:", t.inputs)
        if t.inputs.angles:
            angles = " ".join(f"{a:.0f}°" for a in t.inputs.angles[:8])
            lines.append(f"  principal angles: {angles}{' …' if len(t.inputs.angles) > 8 else ''}")
    return lines


EIGHTHS = " ▏▎▍▌▋▊▉█"


def bar(value: float, top: float, width: int = 20) -> str:
    """A horizontal bar of `width` cells for value/top, in eighths of a cell."""
    if top <= 0 or not math.isfinite(value):
        return ""
    eighths = round(max(0.0, min(1.0, value / top)) * width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def trajectory_lines(points: Sequence[TrajectoryPoint], width: int = 20) -> list[str]:
    """Per checkpoint: how large the update is (a bar) and how it points (cosine to final)."""
    if not points:
        return []
    top = max(p.norm for p in points)
    names = [one_line(p.label, 24) for p in points]
    name_width = max(len(n) for n in names)
    lines = ["checkpoints: ‖ΔW‖ as it grows, cosine to the final update as it turns"]
    for name, p in zip(names, points, strict=True):
        cosine = "—" if p.cosine_to_final is None else f"{p.cosine_to_final:+.3f}"
        lines.append(
            f"{name:<{name_width}} {num(p.norm, 4):>8} {bar(p.norm, top, width):<{width}} "
            f"cos {cosine}"
        )
    return lines
