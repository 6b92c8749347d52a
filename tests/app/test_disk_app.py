"""Pilot tests of the disk actions: sizes in the status line, sort by size, the prune
preview (`P`), aliases (`a`) and export (`X`)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from app_helpers import V1, V2, open_browser, settle, text, until

from ftui.app.main import FtuiApp
from ftui.app.screens.disk_dialogs import AliasScreen, ExportScreen
from ftui.app.screens.prune import PruneScreen
from ftui.store import human_size, scan
from ftui.store.aliases import read_aliases, set_alias
from ftui.store.naming import metadata_file, version_folder

SAMPLES = Path(__file__).resolve().parents[2] / "sample_runs"


def du_sb(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


async def test_status_line_total_agrees_with_du_and_sort_by_size(runs: Path) -> None:
    async with open_browser(runs, size=(120, 40)) as (app, pilot):
        browser = app.browser
        assert browser.disk.root_sizes is not None
        assert browser.disk.root_sizes.total == du_sb(runs)
        assert f"{human_size(du_sb(runs))} on disk" in text(app)
        while browser.sort_key != "size":
            await pilot.press("s")
        await settle(pilot)
        shown = [v.id for v in browser.state.shown]
        sizes = [browser.disk.sizes[i] for i in shown]
        assert sizes == sorted(sizes, reverse=True)
        assert "largest first" in text(app)


async def test_details_show_the_breakdown(runs: Path) -> None:
    async with open_browser(runs, select=(V2, None), size=(120, 60)) as (app, pilot):
        loaded = app.browser.details.loaded
        assert loaded is not None and loaded.breakdown is not None
        assert loaded.breakdown.total == app.browser.disk.sizes[V2]
        await pilot.press("enter", "end")  # the details, scrolled to the bottom
        await settle(pilot)
        screen = text(app)
        assert "version on disk" in screen and "optimizer/scheduler/RNG state" in screen


async def test_prune_preview_asks_then_deletes(runs: Path) -> None:
    before = sorted(p.name for p in version_folder(runs, V2).glob("checkpoint-*"))
    assert len(before) >= 2
    async with open_browser(runs, select=(V2, None), size=(120, 50)) as (app, pilot):
        await pilot.press("P")
        await settle(pilot)
        assert isinstance(app.screen, PruneScreen)
        screen = app.screen
        assert screen.plan is not None and screen.plan.freed > 0
        assert "Frees" in text(app)
        assert (
            sorted(p.name for p in version_folder(runs, V2).glob("checkpoint-*")) == before
        )  # preview only
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, PruneScreen)
        assert sorted(p.name for p in version_folder(runs, V2).glob("checkpoint-*")) == before
        await pilot.press("P")
        await settle(pilot)
        planned = app.screen.plan.freed  # type: ignore[attr-defined]
        await pilot.press("y")
        await settle(pilot)
        await settle(pilot)
    after = sorted(p.name for p in version_folder(runs, V2).glob("checkpoint-*"))
    assert len(after) < len(before)
    record = json.loads(metadata_file(runs, V2).read_text())
    assert sum(e["bytes"] for e in record["pruned"]) == planned


async def test_prune_scope_and_options_keys(runs: Path) -> None:
    async with open_browser(runs, size=(120, 50)) as (app, pilot):
        app.browser.version_tree.select_key((V2, None))
        await pilot.press("P")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, PruneScreen)
        one = screen.plan
        await pilot.press("v")
        await settle(pilot)
        assert screen.plan is not None and one is not None
        assert len(screen.plan.versions) == len(app.browser.versions) > len(one.versions)
        await pilot.press("b", "b", "b")  # keep best: 2, 3, off
        await pilot.press("o")  # optimizer state: kept
        await settle(pilot)
        assert screen.plan is not None and screen.plan.freed == 0
        assert "Nothing to free" in text(app)
        await pilot.press("y")
        assert isinstance(app.screen, PruneScreen)  # nothing to delete: stays


async def test_alias_from_the_app(runs: Path) -> None:
    async with open_browser(runs, size=(120, 40)) as (app, pilot):
        app.browser.version_tree.select_key((V1, None))
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AliasScreen)
        await pilot.press(*"prod", "enter")
        await until(pilot, lambda: "@prod" in text(app))
        assert read_aliases(runs) == {"prod": V1}
        assert dict(app.browser.state.by_id[V1].aliases) == {"prod": None}
        await pilot.press("slash", *"alias:prod", "enter")
        await settle(pilot)
        assert [v.id for v in app.browser.state.shown] == [V1]
        await pilot.press("escape")
        app.browser.version_tree.select_key((V2, None))  # move prod to V2
        await settle(pilot)
        await pilot.press("a", *"prod", "enter")
        await until(pilot, lambda: read_aliases(runs) == {"prod": V2})
        await settle(pilot)
        await pilot.press("a", *"bad/name", "enter")
        await settle(pilot)
        assert read_aliases(runs) == {"prod": V2}
        await pilot.press("d")  # an aliased version refuses deletion
        await settle(pilot)
        assert version_folder(runs, V2).is_dir()
        assert any("aliased as prod" in str(n.message) for n in app._notifications)


async def test_export_from_the_app(tmp_path: Path) -> None:
    root = tmp_path / "model_versions"
    shutil.copytree(SAMPLES, root)
    version = scan(root)[0]
    set_alias(root, "prod", version.id)
    out = tmp_path / "exported"
    app = FtuiApp(root, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.browser.version_tree.select_key((version.id, None))
        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        field = app.screen.query_one("#export-out")
        field.value = str(out)  # type: ignore[attr-defined]
        await pilot.press("enter")
        await settle(pilot)
        for _ in range(3):
            await settle(pilot, 0.5)
    assert (out / "adapter_model.safetensors").is_file() and (out / "README.md").is_file()
