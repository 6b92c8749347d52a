"""`ftui --check DIR`'s app pass: run the real app headless over DIR and report errors.

It opens the browser, visits versions' details and loss plots, opens compare on the
first two versions (shapes, then the tensors' update norms) and draws each screen; any
exception, error notification or timeout becomes a one-line problem. So CI can prove
the app works on a folder with no terminal.

By default it draws one version of each way of being drawn plus every odd or damaged
one (check_plan.py), so it stays affordable on 10,000 versions; `every_version=True`
draws them all (what tests compare the reduced pass with).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.notifications import SeverityLevel

from ftui.store import Version, one_line
from ftui.store.check import CheckReport, check_root

from .main import FtuiApp
from .screens.browser import BrowserScreen
from .screens.compare import CompareScreen
from .selection import Key
from .textdump import screen_text

STEP_TIMEOUT_S = 30.0
SIZE = (120, 40)


class CheckingApp(FtuiApp):
    """The app, recording error notifications instead of only showing them."""

    def __init__(self, root: Path, scanned: list[Version] | None = None) -> None:
        super().__init__(root, poll_interval=0)
        self.errors: list[str] = []
        self.scanned = scanned  # the store's check read these: no second scan

    def get_default_screen(self) -> BrowserScreen:
        return BrowserScreen(self.root, poll_interval=0, scanned=self.scanned)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        if severity == "error":
            self.errors.append(one_line(message))
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)


async def _until(
    condition: Callable[[], bool], what: str, pilot_pause: Callable[[], object]
) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out {what}")
        await pilot_pause()  # type: ignore[misc]


async def _check(root: Path, skip: set[str], scanned: list[Version] | None = None) -> list[str]:
    app = CheckingApp(root, scanned)
    problems: list[str] = []
    try:
        async with app.run_test(size=SIZE) as pilot:

            def pause() -> object:
                return pilot.pause(0.01)

            browser = app.screen
            assert isinstance(browser, BrowserScreen)
            await _until(lambda: browser.scan_complete, "scanning", pause)
            if browser.scan_error:
                return [f"app: {browser.scan_error}"]
            keys: list[Key] = [k for k in browser.version_tree.nodes_by_key if k[1] is None]
            for key in keys:
                if key[0] in skip:
                    continue  # drawn alike to a version drawn
                if not browser.version_tree.select_key(key):
                    problems.append(f"app: {key[0]}: not selectable in the tree")
                    continue

                def loaded(key: Key = key) -> bool:
                    shown = browser.details.loaded
                    return shown is not None and shown.selection.key == key

                await _until(loaded, f"loading the details of {key[0]}", pause)
                screen_text(app)  # draws the details and the plot
            versions = [k for k in keys][:2]
            if len(versions) == 2:
                browser.marked = versions
                browser.action_compare()
                await _until(
                    lambda: isinstance(app.screen, CompareScreen), "opening compare", pause
                )
                compare = app.screen
                assert isinstance(compare, CompareScreen)
                await _until(
                    lambda: compare.updates is not None or bool(app.errors),
                    "loading the comparison and its update norms",
                    pause,
                )
                screen_text(app)
                compare.action_back()
                # (a bare pilot.pause() waits for idle: up to 1 s while the sizes and
                # metrics workers read a large folder)
                await pilot.pause(0.01)
    except Exception as exc:  # the app crashed: that is exactly what this pass reports
        problems.append(f"app: {type(exc).__name__}: {one_line(str(exc))}")
    problems += [f"app: {error}" for error in app.errors]
    return problems


def run_headless_check(
    root: Path, report: CheckReport | None = None, *, every_version: bool = False
) -> list[str]:
    """Problems found by running the app over `root` (empty when all went well).

    `report` is the store's check of `root` (made here when not given): it says which
    versions are damaged and how each one's loss plot is drawn, which decides the
    versions whose screens are drawn; `every_version` draws every version's.
    """
    skip: set[str] = set()
    scanned: list[Version] | None = None
    if not every_version:
        from .check_plan import versions_to_draw

        report = report if report is not None else check_root(root)
        skip = {item.version.id for item in report.versions}
        skip -= set(versions_to_draw(report.versions))
        if report.error is None:  # (an unusable root: the app says why itself)
            scanned = [item.version for item in report.versions]
    return asyncio.run(_check(root, skip, scanned))
