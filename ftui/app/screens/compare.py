"""The compare pane: two versions (or checkpoints) side by side.

Settings that differ (all with `a`), both loss curves overlaid in one plot, and a
per-module table of LoRA shapes and ranks with a one-line summary. Shapes come from
safetensors headers only, so opening it costs the same for 17 KB or 200 MB adapters.
"""

from __future__ import annotations

import os
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker

from ftui.store import Comparison, LoraModule, ModuleStatus, safe_text
from ftui.store.comparison import metric_pairs
from ftui.store.lora_math import UpdateStats

from ..format import fmt_loss, fmt_value, plain, shape_text
from ..loading import load_comparison, load_updates
from ..messages import ComparisonData, ComparisonLoaded, UpdatesLoaded
from ..palette import COMPONENT_CLASSES, Palette, palette_of
from ..selection import Selection
from ..widgets.loss_plot import LossPlot
from ..workers import WorkerFailures, start

# symbol and palette colour per module status (the symbol reads without colour)
MODULE_STATUS_STYLE = {
    ModuleStatus.SAME: ("=", ""),
    ModuleStatus.SHAPE_DIFFERS: ("≠", "warning"),
    ModuleStatus.ONLY_A: ("◀", "error"),
    ModuleStatus.ONLY_B: ("▶", "error"),
}


def head_text(
    comparison: Comparison, show_all: bool, palette: Palette | None = None
) -> RenderableType:
    colours = palette or {}
    a, b = comparison.a, comparison.b
    lines: list[RenderableType] = []
    title = Text()
    title.append("A ", style=colours.get("side_a", "bold"))
    title.append(safe_text(a.label))
    title.append("   vs   ")
    title.append("B ", style=colours.get("side_b", "bold"))
    title.append(safe_text(b.label))
    lines.append(title)
    if comparison.base_models_differ:
        warning = Text("⚠ different base models: ", style=colours.get("error", ""))
        warning.append_text(plain(f"{a.base_model or '?'} vs {b.base_model or '?'}", 120))
        warning.append(" (the adapters are not interchangeable)", style=colours.get("error", ""))
        lines.append(warning)
    for side, name in ((a, "A"), (b, "B")):
        if side.error:
            lines.append(Text(f"⚠ {name}: {safe_text(side.error)}", style=colours.get("error", "")))
    summary = Text("modules: ", style="bold")
    summary.append(comparison.summary())
    lines.append(summary)
    pairs = metric_pairs(comparison)
    if pairs:
        results = Text("results: ", style="bold")
        results.append(", ".join(
            f"{name.replace('_', ' ')} {fmt_loss(a)} → {fmt_loss(b)}" for name, a, b in pairs
        ))  # fmt: skip
        lines.append(results)
    count = len(comparison.differing_settings)
    scope = (
        "all settings"
        if show_all
        else (f"{count} setting differs" if count == 1 else f"{count} settings differ")
    )
    lines.append(Text(f"{scope} (a: show {'differing' if show_all else 'all'})", style="dim"))
    return Group(*lines)


def settings_table(comparison: Comparison, show_all: bool) -> RenderableType:
    rows = comparison.settings if show_all else comparison.differing_settings
    if not rows:
        return Text("the recorded settings are the same", style="dim")
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    table.add_column("setting", overflow="fold", ratio=4)
    table.add_column("A", overflow="fold", ratio=3)
    table.add_column("B", overflow="fold", ratio=3)
    for diff in rows:
        style = "bold" if diff.differs and show_all else ""
        mark = "≠ " if diff.differs and show_all else ""
        table.add_row(
            Text(mark + safe_text(diff.key), style=style),
            Text(fmt_value(diff.a)),
            Text(fmt_value(diff.b)),
        )
    return table


def _shapes(module: LoraModule | None) -> tuple[str, str]:
    if module is None:
        return "—", "—"
    shapes = f"{shape_text(module.a_shape)} / {shape_text(module.b_shape)}"
    return shapes, fmt_value(module.rank)


def module_prefix(names: list[str]) -> str:
    """The dotted prefix all module names share (`transformer.h.`), shown once in the
    column header so the rows fit 80 columns."""
    if len(names) < 2:
        return ""
    common = os.path.commonprefix(names)
    return common[: common.rfind(".") + 1]


def modules_table(comparison: Comparison, palette: Palette | None = None) -> RenderableType:
    if not comparison.modules:
        return Text("no LoRA modules on either side", style="dim")
    prefix = module_prefix([d.name for d in comparison.modules])
    table = Table(box=None, padding=(0, 1), header_style="bold", expand=True)
    table.add_column(Text(f"module ({prefix}…)" if prefix else "module"), overflow="fold",
                     ratio=3)  # fmt: skip
    table.add_column("A: lora_A / lora_B", overflow="fold", ratio=2)
    table.add_column("r", justify="right", no_wrap=True)
    table.add_column("B: lora_A / lora_B", overflow="fold", ratio=2)
    table.add_column("r", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=True)
    for diff in comparison.modules:
        symbol, colour = MODULE_STATUS_STYLE[diff.status]
        style = (palette or {}).get(colour, "dim") if colour else "dim"
        a_shapes, a_rank = _shapes(diff.a)
        b_shapes, b_rank = _shapes(diff.b)
        table.add_row(
            plain(diff.name[len(prefix) :]),
            Text(a_shapes),
            Text(a_rank),
            Text(b_shapes),
            Text(b_rank),
            Text(f"{symbol} {diff.status.value}", style=style),
        )
    return table


def _norm(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def updates_table(updates: list[UpdateStats] | None) -> RenderableType:
    """‖ΔW‖ of each side and the cosine between them, per module.

    The cosine says whether two runs learned the same update (near 1), an unrelated one
    (near 0) or the opposite (negative), which shapes alone cannot tell.
    """
    if updates is None:
        return Text("reading tensors for update norms…", style="dim")
    if not updates:
        return Text("")
    table = Table(
        box=None,
        padding=(0, 1),
        header_style="bold",
        expand=True,
        title="updates ΔW = s·B·A",
        title_justify="left",
        title_style="bold",
    )
    prefix = module_prefix([s.module for s in updates])
    table.add_column(Text(f"module ({prefix}…)" if prefix else "module"), overflow="fold",
                     ratio=3)  # fmt: skip
    table.add_column("‖ΔW‖ A", justify="right", no_wrap=True)
    table.add_column("‖ΔW‖ B", justify="right", no_wrap=True)
    table.add_column("cos(A,B)", justify="right", no_wrap=True)
    for stats in updates:
        cosine = "—" if stats.cosine is None else f"{stats.cosine:+.3f}"
        name = plain(stats.module[len(prefix) :])
        table.add_row(name, _norm(stats.norm_a), _norm(stats.norm_b), cosine)
    cosines = [s.cosine for s in updates if s.cosine is not None]
    if cosines:
        table.caption = (
            f"mean cosine {sum(cosines) / len(cosines):+.3f} over {len(cosines)} modules"
        )
        table.caption_justify = "left"
    return table


class CompareScreen(WorkerFailures, Screen[None]):
    """Shows what a worker loaded for the pair it was given."""

    COMPONENT_CLASSES = COMPONENT_CLASSES

    BINDINGS = [
        Binding("escape,q", "back", "Back"),
        Binding("a", "toggle_all", "All settings"),
        Binding("x", "swap", "Swap A/B"),
        Binding("j", "scroll('down')", "Down", show=False),
        Binding("k", "scroll('up')", "Up", show=False),
    ]

    def __init__(self, a: Selection, b: Selection) -> None:
        super().__init__()
        self.a = a
        self.b = b
        self.show_all = False
        self.data: ComparisonData | None = None
        self.updates: list[UpdateStats] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="compare-body"):
            yield Static(
                Text(f"comparing {safe_text(self.a.label)} and {safe_text(self.b.label)}…"),
                id="compare-head",
            )
            yield Static(id="compare-settings")
            yield LossPlot("loss", id="compare-plot")
            yield Static(id="compare-modules")
            yield Static(id="compare-updates")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#compare-body").focus()
        self.load(self.a, self.b)

    def load(self, a: Selection, b: Selection) -> None:
        start(self, self.read_comparison, a, b, what="compare", group="compare")

    def read_comparison(self, a: Selection, b: Selection) -> None:
        self.post_message(ComparisonLoaded(load_comparison(a, b)))  # shapes first: fast

    def updates_worker(self, comparison: Comparison) -> None:
        start(self, self.read_updates, comparison, what="read tensors", group="compare-updates")

    def read_updates(self, comparison: Comparison) -> None:
        self.post_message(UpdatesLoaded(load_updates(comparison)))

    @on(ComparisonLoaded)
    def loaded(self, message: ComparisonLoaded) -> None:
        self.data = message.data
        self.render_comparison()
        data = message.data
        self.query_one(LossPlot).show_pair(
            data.history_a, data.history_b, data.comparison.a.label, data.comparison.b.label
        )
        # Reading tensor data can take a while on large adapters: start once the shapes
        # are on screen, so it never delays them.
        self.call_after_refresh(self.updates_worker, data.comparison)

    @on(UpdatesLoaded)
    def updates_loaded(self, message: UpdatesLoaded) -> None:
        self.updates = message.updates
        self.query_one("#compare-updates", Static).update(updates_table(self.updates))

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        """Notified already; the pane says it too, where the result would have been."""
        reason = Text(safe_text(text), style=palette_of(self)["error"])
        target = "#compare-updates" if self.data is not None else "#compare-head"
        self.query_one(target, Static).update(reason)

    def render_comparison(self) -> None:
        if self.data is None:
            return
        comparison = self.data.comparison
        palette = palette_of(self)
        self.query_one("#compare-head", Static).update(
            head_text(comparison, self.show_all, palette)
        )
        self.query_one("#compare-settings", Static).update(
            settings_table(comparison, self.show_all)
        )
        self.query_one("#compare-modules", Static).update(modules_table(comparison, palette))
        self.query_one("#compare-updates", Static).update(updates_table(self.updates))

    @property
    def summary(self) -> str | None:
        return self.data.comparison.summary() if self.data else None

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.render_comparison()

    def action_swap(self) -> None:
        self.a, self.b = self.b, self.a
        self.updates = None
        self.load(self.a, self.b)

    def action_scroll(self, direction: str) -> None:
        body = self.query_one("#compare-body", VerticalScroll)
        getattr(body, f"scroll_{direction}")()

    def action_back(self) -> None:
        self.dismiss(None)

    def state(self) -> dict[str, Any]:
        """What the screen currently shows, for tests and the headless check."""
        return {"summary": self.summary, "show_all": self.show_all}
