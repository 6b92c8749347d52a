"""The ftui Textual app and `run_app`, the entry point `ftui [DIR]` calls."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding

from .commands import ActionsProvider
from .screens.browser import POLL_INTERVAL_S, BrowserScreen
from .screens.help import HelpScreen, key_label
from .selection import Selection


class FtuiApp(App[int]):
    """Browse, train and compare LoRA versions under `root`."""

    CSS_PATH = "ftui.tcss"
    TITLE = "ftui"
    COMMANDS = App.COMMANDS | {ActionsProvider}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(self, root: Path, *, poll_interval: float = POLL_INTERVAL_S) -> None:
        super().__init__()
        self.root = root
        self.poll_interval = poll_interval

    def on_mount(self) -> None:
        self.push_screen(BrowserScreen(self.root, poll_interval=self.poll_interval))

    @property
    def browser(self) -> BrowserScreen:
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                return screen
        raise LookupError("no browser screen")

    def key_rows(self) -> list[tuple[str, str]]:
        """Every active binding of the current screen as (keys, description)."""
        by_action: dict[str, tuple[list[str], str]] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description:
                continue
            keys, _ = by_action.setdefault(binding.action, ([], binding.description))
            keys.append(key_label(key))
        return [(" ".join(keys), description) for keys, description in by_action.values()]

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        title = type(self.screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(title, self.key_rows()))

    # ------------------------------------------------------------ training (filled in step 4)

    def open_train_form(self, selection: Selection | None) -> None:
        self.notify("training is not available yet", severity="warning")

    def retrain(self, selection: Selection) -> None:
        self.notify("training is not available yet", severity="warning")

    def watch_run(self, selection: Selection | None) -> None:
        self.notify("no run to watch", severity="warning")


def run_app(root: Path) -> int:
    """Run the browser on `root` until the user quits; the exit code."""
    result = FtuiApp(root).run()
    return result if isinstance(result, int) else 0
