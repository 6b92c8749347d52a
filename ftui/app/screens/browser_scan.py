"""The browser's scanning: a worker reads the root (an early batch for big folders, then
all), another fills in losses from histories, and a cheap poll notices changes made
elsewhere. A mixin of `BrowserScreen`; results come back as messages whose handlers
(found by name along the MRO) put them into the screen's `state`.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ftui.store import Metrics, RootError, Version

from ..loading import fill_metrics, live_run_died, root_signature, scan_batches
from ..messages import MetricsFilled, VersionsScanned
from ..selection import Key
from ..workers import start

if TYPE_CHECKING:
    from textual.screen import Screen

    from ..browser_state import BrowserState
    from ..disk_actions import DiskTools
    from ..widgets.version_tree import VersionTree

    _Base = Screen[None]
else:
    _Base = object


class BrowserScanning(_Base):
    """Scanning for `BrowserScreen` (which provides the attributes declared here)."""

    if TYPE_CHECKING:
        root: Path
        state: BrowserState
        scan_id: int
        signature: int | None
        pending_select: Key | None
        early_key: Key | None
        filled: dict[tuple[str, str, int], Metrics]
        disk: DiskTools
        closing: threading.Event  # set when the screen goes: workers stop early
        scanned: list[Version] | None

        @property
        def version_tree(self) -> VersionTree: ...

    def rescan(self) -> None:
        self.scan_id += 1
        self.signature = root_signature(self.root)
        start(self, self.scan, self.scan_id, what=f"scan {self.root}", group="scan")

    def scan(self, scan_id: int) -> None:
        if self.scanned is not None:
            versions, self.scanned = self.scanned, None
            self.post_message(VersionsScanned(versions, True, scan_id=scan_id))
            return
        try:
            for versions, complete in scan_batches(self.root, self.closing):
                self.post_message(VersionsScanned(versions, complete, scan_id=scan_id))
        except RootError as exc:
            self.post_message(VersionsScanned([], True, str(exc), scan_id=scan_id))

    def fill(self, versions: list[Version], scan_id: int) -> None:
        filled = fill_metrics(versions, self.closing)
        if filled:
            self.post_message(MetricsFilled(filled, scan_id))

    def poll_root(self) -> None:
        """Cheap check (one stat) for versions added, removed or rewritten elsewhere,
        and for runs whose process died (a kill -9 changes nothing on disk)."""
        if not self.state.scan_complete:
            return
        if root_signature(self.root) != self.signature or live_run_died(self.state.versions):
            self.rescan()

    @staticmethod
    def _fill_key(version: Version) -> tuple[str, str, int]:
        return (version.id, version.status.value, len(version.checkpoints))

    def on_versions_scanned(self, message: VersionsScanned) -> None:
        if message.scan_id != self.scan_id:
            return
        versions = [self._with_filled(v) for v in message.versions]
        self.state = self.state.with_versions(versions, message.complete, message.error)
        tree = self.version_tree
        key = tree.selection.key if tree.selection else None
        if not message.complete:
            self.early_key = key  # where the cursor landed on its own, before all was read
        elif self.early_key is not None:
            if key == self.early_key and self.pending_select is None:
                tree.select_first()  # the user did not move: start at the top of the full list
            self.early_key = None
        if message.complete and message.error is None:
            self.disk.start_sizes(versions, message.scan_id)
            missing = [v for v in versions if v.final_loss is None]
            if missing:
                what = "read the loss histories"
                start(self, self.fill, missing, message.scan_id, what=what, group="metrics")

    def _with_filled(self, version: Version) -> Version:
        metrics = self.filled.get(self._fill_key(version))
        if metrics is None or version.final_loss is not None:
            return version
        return replace(version, metrics=metrics)

    def on_metrics_filled(self, message: MetricsFilled) -> None:
        for version in message.versions.values():
            self.filled[self._fill_key(version)] = version.metrics
        if message.scan_id != self.scan_id:
            return
        versions = [message.versions.get(v.id, v) for v in self.state.versions]
        state = self.state
        self.state = state.with_versions(versions, state.scan_complete, state.scan_error)

    def select_version(self, version_id: str) -> None:
        """Select a version once it is in the tree (now, or after the next scan)."""
        key: Key = (version_id, None)
        if not self.version_tree.select_key(key):
            self.pending_select = key
            self.rescan()
