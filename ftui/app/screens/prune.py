"""The prune preview (`P`): what would go, how many bytes it frees; `y` deletes.

Keys change the options and the preview is worked out again in a worker (it walks
folders for sizes): `b` keep-best (off, 1, 2, 3), `l` keep-last, `o` drop optimizer
state, `L` also the last checkpoint's state, `v` this version or every version.
The screen dismisses with the plan to carry out, or None.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from ftui.store import Status, Version, human_size
from ftui.store.prune import PruneOptions, PrunePlan, plan_prune
from ftui.store.text import one_line

from ..palette import COMPONENT_CLASSES, Palette, palette_of

KEEP_BEST = (1, 2, 3, None)
KEEP_LAST = (None, 0, 1, 2, 3)
DEFAULT_OPTIONS = PruneOptions(keep_best=1, drop_state=True)


def _next(values: tuple[int | None, ...], current: int | None) -> int | None:
    return values[(values.index(current) + 1) % len(values)] if current in values else values[0]


def plan_text(plan: PrunePlan, palette: Palette | None = None) -> Text:
    """The preview: per version what goes (and its size), what stays and why."""
    text = Text()
    removed, kept = (palette or {}).get("error", ""), (palette or {}).get(Status.COMPLETED, "")
    for vp in plan.versions:
        text.append(one_line(vp.version.id, 80), style="bold")
        if vp.skipped is not None:
            text.append(f"  skipped: {one_line(vp.skipped, 200)}\n", style="dim")
            continue
        if not vp.freed:
            text.append("  nothing to remove\n", style="dim")
            continue
        text.append(f"  frees {human_size(vp.freed)}\n")
        if vp.leftovers:
            text.append(f"  − leftovers of an interrupted prune  {human_size(vp.leftovers)}\n")
        for r in vp.removals:
            text.append("  − ", style=removed)
            text.append(f"{one_line(r.label, 80)}  {human_size(r.bytes)}", style=removed)
            text.append(f"  ({r.reason})\n", style="dim")
        for name, why in vp.kept.items():
            text.append(f"  + {one_line(name, 60)}", style=kept)
            text.append(f"  ({one_line(why, 120)})\n", style="dim")
    return text


def options_text(options: PruneOptions, scope: str) -> Text:
    def flag(value: object) -> str:
        return "off" if value is None else str(value)

    text = Text()
    text.append(f"b keep best {flag(options.keep_best)}   ")
    last = "1 (default)" if options.keep_last is None else str(options.keep_last)
    text.append(f"l keep last {last if options.prunes_checkpoints else 'off'}   ")
    text.append(f"o optimizer state {'dropped' if options.drop_state else 'kept'}")
    if options.drop_state:
        text.append(f" ({'all' if options.all_state else 'but the last'}: L)")
    text.append(f"   v {scope}")
    return text


class PruneScreen(ModalScreen[PrunePlan | None]):
    """Preview a prune of one version or of all; `y` carries it out."""

    COMPONENT_CLASSES = COMPONENT_CLASSES

    BINDINGS = [
        Binding("y", "delete", "Delete"),
        Binding("escape,n", "cancel", "Cancel"),
        Binding("b", "keep_best", "Keep best"),
        Binding("l", "keep_last", "Keep last"),
        Binding("o", "drop_state", "Optimizer state"),
        Binding("L", "all_state", "Last state too", show=False),
        Binding("v", "scope", "This/all versions"),
    ]

    def __init__(
        self,
        selected: Version | None,
        everything: list[Version],
        planner: Callable[[Callable[[], PrunePlan], Callable[[PrunePlan], None]], None],
    ) -> None:
        super().__init__()
        self.selected = selected
        self.everything = everything
        self.all_versions = selected is None
        self.options = DEFAULT_OPTIONS
        self.plan: PrunePlan | None = None
        self.token = 0
        self.planner = planner  # runs the first callable in a worker, the second after

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="prune-dialog"):
            yield Static(id="prune-title", classes="dialog-title")
            yield Static(id="prune-options")
            with VerticalScroll(id="prune-scroll"):
                yield Static(Text("working out what can go…", style="dim"), id="prune-body")
            yield Static(id="prune-total")
            yield Static(
                Text(
                    "y: delete what is marked −   escape: cancel   b l o L v: options", style="dim"
                )  # fmt: skip
            )

    def on_mount(self) -> None:
        self.replan()

    @property
    def scope(self) -> str:
        if self.all_versions or self.selected is None:
            return f"all {len(self.everything)} versions"
        return f"version {one_line(self.selected.id, 60)}"

    def replan(self) -> None:
        self.token += 1
        token, options = self.token, self.options
        versions = (
            self.everything if self.all_versions or self.selected is None else [self.selected]
        )
        self.plan = None
        title = Text(f"Prune {self.scope}", style="bold")
        self.query_one("#prune-title", Static).update(title)
        self.query_one("#prune-options", Static).update(options_text(options, self.scope))
        self.query_one("#prune-total", Static).update(Text("…", style="dim"))

        def shown(plan: PrunePlan) -> None:
            if token == self.token and self.is_attached:
                self.show_plan(plan)

        self.planner(lambda: plan_prune(versions, options), shown)

    def show_plan(self, plan: PrunePlan) -> None:
        self.plan = plan
        self.query_one("#prune-body", Static).update(plan_text(plan, palette_of(self)))
        total = Text()
        if plan.freed:
            total.append(f"Frees {human_size(plan.freed)}", style="bold")
            total.append(f" ({plan.freed:,} bytes). Final adapters and best checkpoints stay.")
        else:
            total.append("Nothing to free with these options.", style="dim")
        self.query_one("#prune-total", Static).update(total)

    def action_keep_best(self) -> None:
        self.options = replace(self.options, keep_best=_next(KEEP_BEST, self.options.keep_best))
        self.replan()

    def action_keep_last(self) -> None:
        self.options = replace(self.options, keep_last=_next(KEEP_LAST, self.options.keep_last))
        self.replan()

    def action_drop_state(self) -> None:
        self.options = replace(self.options, drop_state=not self.options.drop_state)
        self.replan()

    def action_all_state(self) -> None:
        if self.options.drop_state:
            self.options = replace(self.options, all_state=not self.options.all_state)
            self.replan()

    def action_scope(self) -> None:
        if self.selected is not None:
            self.all_versions = not self.all_versions
            self.replan()

    def action_delete(self) -> None:
        if self.plan is None:
            self.app.notify("still working out the preview", severity="warning")
            return
        if not self.plan.freed:
            self.app.notify("nothing to delete with these options", severity="warning")
            return
        self.dismiss(self.plan)

    def action_cancel(self) -> None:
        self.dismiss(None)
