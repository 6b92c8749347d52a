"""The details pane: every metadata field, files on disk, LoRA modules and a loss plot.

`show_selection()` fills in what the scan already read (instant); `show_loaded()` adds
what a worker read afterwards (history, file sizes, a checkpoint's adapter).

The app's first frame is the tree: until `first_frame_out()` the pane shows only the
selection's name, because its tables take longer to lay out than the rest of the screen
together; the loss plot (plotext) is imported and mounted when first needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ftui.store import AdapterInfo, Status, Version, human_size, one_line, safe_text
from ftui.store.fields import flatten
from ftui.store.text import preview

from ..format import fmt_epoch, fmt_loss, fmt_time, fmt_value, plain, shape_text, status_text
from ..messages import DetailsData
from ..palette import Palette, palette_of
from ..selection import Selection

if TYPE_CHECKING:
    from ftui.store.sizes import SizeBreakdown

    from .loss_plot import LossPlot

# Top-level metadata keys shown in their own sections; anything else goes under "other".
SHOWN_KEYS = frozenset(
    {
        "version_id",
        "timestamp",
        "model_name",
        "lora_config",
        "num_samples",
        "num_epochs",
        "schema_version",
        "status",
        "parent",
        "data",
        "training_args",
        "metrics",
        "epochs",
        "tags",
        "notes",
        "library_versions",
        "error",
        "spec",
        "log_history",
    }
)
MAX_MODULES_SHOWN = 200
MAX_NOTES_CHARS = 4000  # longer notes are cut, saying how long they are
MAX_PROBLEMS_SHOWN = 50
HEAD_ROWS = 4  # status, created, base model, layout: above the plot; the rest below it


def field_table(rows: Iterable[tuple[str, Text | str]]) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), value if isinstance(value, Text) else Text(value))
    return table


def section(title: str, body: RenderableType) -> Group:
    return Group(Text(title, style="bold underline"), body)


MAX_FIELDS_SHOWN = 500


def mapping_rows(mapping: Mapping[str, Any]) -> list[tuple[str, Text | str]]:
    """Flattened fields, each key and value on one bounded line; at most
    `MAX_FIELDS_SHOWN` of them (a metadata file may hold a million keys)."""
    flat = flatten(mapping)
    rows: list[tuple[str, Text | str]] = [
        (one_line(str(k), 80), fmt_value(v)) for k, v in islice(flat.items(), MAX_FIELDS_SHOWN)
    ]
    if len(flat) > MAX_FIELDS_SHOWN:
        rows.append(("…", f"{len(flat):,} fields in all"))
    return rows


# What a version's weights are, when they are not a readable LoRA adapter.
WEIGHT_KINDS = {
    "merged": ", a merged full model (no adapter)",
    "pickle": ", adapter_model.bin (pickle, not read)",
    "": ", no weights found",
}


def summary_rows(version: Version, palette: Palette | None = None) -> list[tuple[str, Text | str]]:
    lora = version.lora
    rows: list[tuple[str, Text | str]] = [
        ("status", status_text(version.status, palette)),
        ("created", fmt_time(version.created)),
        ("base model", fmt_value(version.base_model)),
        ("layout", version.layout.value + WEIGHT_KINDS.get(version.kind, "")),
        (
            "LoRA",
            f"r={fmt_value(lora.r)} alpha={fmt_value(lora.alpha)} "
            f"dropout={fmt_value(lora.dropout)}",
        ),
        ("targets", fmt_value(list(lora.target_modules)) if lora.target_modules else "—"),
    ]
    if lora.use_rslora is not None or lora.bias is not None:
        rows.append(("rslora/bias", f"{fmt_value(lora.use_rslora)} / {fmt_value(lora.bias)}"))
    m = version.metrics
    last = "latest" if version.status is Status.RUNNING else "final"  # not final while running
    rows += [
        (
            "train loss",
            f"{last} {fmt_loss(m.final_train_loss)}  best {fmt_loss(m.best_train_loss)}",
        ),
        (
            "eval loss",
            f"{last} {fmt_loss(m.final_eval_loss)}  best {fmt_loss(m.best_eval_loss)}"
            + (f" (epoch {fmt_epoch(m.best_epoch)})" if m.best_epoch is not None else ""),
        ),
        ("samples", fmt_value(version.num_samples)),
        ("epochs", fmt_value(version.num_epochs)),
        ("data", fmt_value(version.data_fingerprint)),
    ]
    parent = version.parent
    if parent is not None:
        text = parent.version_id + (f"/{parent.checkpoint}" if parent.checkpoint else "")
        rows.append(("parent", plain(f"{text} ({parent.mode})")))
    performance = version.metadata.get("performance")
    if performance:
        from ftui.train.metrics import performance_line  # (not needed for the first frame)

        line = performance_line(performance)
        if line:
            rows.append(("throughput", plain(line, 300)))
    rows.append(("tags", plain(", ".join(version.tags)) if version.tags else "—"))
    if version.aliases:
        named = [f"{a} → {t or 'this version'}" for a, t in sorted(version.aliases.items())]
        rows.append(("aliases", plain(", ".join(named), 400)))
    notes = Text(preview(version.notes, MAX_NOTES_CHARS)) if version.notes else Text("—")
    rows.append(("notes", notes))
    if version.status is Status.RUNNING:
        warning = (palette or {}).get("warning", "")
        rows.append(("live", Text("running: press w to follow it live", style=warning)))
    if version.error:
        error = (palette or {}).get("error", "")
        rows.append(("error", Text(one_line(version.error, 1000), style=error)))
    return rows


def breakdown_table(breakdown: SizeBreakdown) -> Table:
    """The version's bytes by kind (what `ftui du` shows), and their total."""
    table = Table.grid(padding=(0, 1))
    table.add_column()
    table.add_column(justify="right", no_wrap=True)
    from ftui.store.sizes import KIND_TITLES, KINDS

    for kind in KINDS:
        table.add_row(KIND_TITLES[kind], human_size(getattr(breakdown, kind)))
    table.add_row(Text("total", style="bold"), Text(human_size(breakdown.total), style="bold"))
    return table


def modules_table(adapter: AdapterInfo | None) -> RenderableType:
    if adapter is None:
        return Text("no adapter weights", style="dim")
    table = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    table.add_column("module", overflow="fold")
    table.add_column("A", no_wrap=True)
    table.add_column("B", no_wrap=True)
    table.add_column("r", no_wrap=True, justify="right")
    for module in adapter.modules[:MAX_MODULES_SHOWN]:
        table.add_row(
            plain(module.name),
            shape_text(module.a_shape),
            shape_text(module.b_shape),
            fmt_value(module.rank),
        )
    caption = (
        f"{len(adapter.modules)} modules, {len(adapter.tensors)} tensors, "
        f"{adapter.parameter_count:,} parameters, {human_size(adapter.file_size)}"
    )
    return Group(Text(caption), table)


class DetailsPane(VerticalScroll):
    """Everything known about the selected version or checkpoint."""

    can_focus = True
    ALLOW_MAXIMIZE = True  # enter opens it full screen; escape returns (App.ESCAPE_TO_MINIMIZE)

    def compose(self) -> ComposeResult:
        yield Static(id="details-head")
        yield Static(id="details-info")
        yield Static(id="details-files")
        yield Static(id="details-modules")

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.selection: Selection | None = None
        self.loaded: DetailsData | None = None
        self._first_frame_out = False
        self._plot: LossPlot | None = None

    def first_frame_out(self) -> None:
        """The app's first frame is on screen: fill in what waited for it."""
        if self._first_frame_out:
            return
        self._first_frame_out = True
        selection, loaded = self.selection, self.loaded
        if selection is not None:
            self.show_selection(selection)
            if loaded is not None:
                self.show_loaded(loaded)

    @property
    def plot(self) -> LossPlot:
        """The loss plot, mounted below the head the first time it is needed."""
        if self._plot is None:
            from .loss_plot import LossPlot

            self._plot = LossPlot(id="details-plot")
            self.mount(self._plot, after="#details-head")
        return self._plot

    def show_empty(self, message: str) -> None:
        self.selection = None
        self.loaded = None
        self.query_one("#details-head", Static).update(Text(message, style="dim"))
        self.query_one("#details-info", Static).update("")
        if self._plot is not None:
            self._plot.clear_series("loss")
            self._plot.display = False  # an empty frame says nothing
        self.query_one("#details-files", Static).update("")
        self.query_one("#details-modules", Static).update("")

    def show_selection(self, selection: Selection) -> None:
        """What the scan read: shown at once, before the worker's part arrives."""
        self.selection = selection
        self.loaded = None
        if not self._first_frame_out:  # just its name until the first frame is out
            title = Text(safe_text(selection.label), style="bold")
            self.query_one("#details-head", Static).update(title)
            return
        plot = self.plot
        plot.display = True
        version, checkpoint = selection.version, selection.checkpoint
        title = Text(safe_text(selection.label), style="bold")
        head: list[RenderableType] = [title]
        parts: list[RenderableType] = []
        if checkpoint is not None:
            head.append(
                field_table(
                    [
                        ("step", str(checkpoint.step)),
                        ("epoch", fmt_epoch(checkpoint.epoch)),
                        ("train loss", fmt_loss(checkpoint.train_loss)),
                        ("eval loss", fmt_loss(checkpoint.eval_loss)),
                    ]
                )
            )
            head.append(Text(f"of version {safe_text(version.id)}:", style="dim"))
        rows = summary_rows(version, palette_of(self))
        head.append(field_table(rows[:HEAD_ROWS]))
        parts.append(field_table(rows[HEAD_ROWS:]))
        if version.problems:
            shown = [f"⚠ {one_line(str(p), 500)}" for p in version.problems[:MAX_PROBLEMS_SHOWN]]
            if len(version.problems) > MAX_PROBLEMS_SHOWN:
                shown.append(f"… {len(version.problems):,} problems in all")
            problems = Text("\n".join(shown), style=palette_of(self)["error"])
            parts.append(section("problems", problems))
        data = version.metadata.get("data")
        if isinstance(data, Mapping) and data:
            parts.append(section("data", field_table(mapping_rows(data))))
        if version.training_args:
            parts.append(
                section("training arguments", field_table(mapping_rows(version.training_args)))
            )
        if version.library_versions:
            parts.append(
                section("library versions", field_table(mapping_rows(version.library_versions)))
            )
        other = {k: v for k, v in version.metadata.items() if k not in SHOWN_KEYS}
        if other:
            parts.append(section("other metadata", field_table(mapping_rows(other))))
        self.query_one("#details-head", Static).update(Group(*head))
        self.query_one("#details-info", Static).update(Group(*parts))
        plot.clear_series("loss (loading…)")
        self.query_one("#details-files", Static).update(Text("files: reading…", style="dim"))
        self.query_one("#details-modules", Static).update(
            modules_table(version.adapter) if checkpoint is None else ""
        )

    def show_loaded(self, data: DetailsData) -> None:
        """The worker's part: loss plot, files and sizes, modules of a checkpoint."""
        if self.selection is None or data.selection.key != self.selection.key:
            return  # the user has moved on
        self.loaded = data
        if not self._first_frame_out:
            return  # shown with the rest just after the first frame
        self.plot.show_history(data.history, "loss")
        files = Table.grid(padding=(0, 1))
        files.add_column(overflow="fold")
        files.add_column(justify="right", no_wrap=True)
        for path, size in data.files:
            files.add_row(plain(path), human_size(size))
        if data.more_files:
            files.add_row(Text("…", style="dim"), "")
        body: list[RenderableType] = [files]
        if data.problems:
            lines = "\n".join(f"⚠ {one_line(p, 500)}" for p in data.problems)
            body.append(Text(lines, style=palette_of(self)["error"]))
        title = f"files ({human_size(data.total_size)} on disk)"
        self.query_one("#details-files", Static).update(section(title, Group(*body)))
        modules: list[RenderableType] = [section("LoRA modules", modules_table(data.adapter))]
        if data.breakdown is not None:  # last: the sections above keep their place
            modules.append(Text(""))
            modules.append(section("version on disk", breakdown_table(data.breakdown)))
        self.query_one("#details-modules", Static).update(Group(*modules))
