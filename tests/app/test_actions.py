"""Pilot tests of the editing actions: tags, notes, delete; and help and the palette."""

from __future__ import annotations

import json
from pathlib import Path

from app_helpers import TRAINER, V1, V2, V3, open_browser, settle, text

from ftui.app.screens.confirm import ConfirmScreen
from ftui.app.screens.help import HelpScreen
from ftui.store.naming import folder_name


def metadata(root: Path, version_id: str) -> dict[str, object]:
    return json.loads((root / f"metadata_{version_id}.json").read_text())


async def test_edit_tags_saves_to_metadata(runs: Path) -> None:
    async with open_browser(runs, size=(100, 60)) as (app, pilot):
        app.browser.version_tree.select_key((V1, None))
        await pilot.press("e")
        await settle(pilot)
        field = app.screen.query_one("#tags-input")
        field.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"best, [bold]x", "enter")
        await settle(pilot)
        assert metadata(runs, V1)["tags"] == ["best", "[bold]x"]
        assert metadata(runs, V1)["notes"] == "first try"  # other keys untouched
        assert "[bold]x" in text(app)
        assert app.browser.state.by_id[V1].tags == ("best", "[bold]x")


async def test_edit_tags_escape_changes_nothing(runs: Path) -> None:
    before = (runs / f"metadata_{V1}.json").read_bytes()
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        app.browser.version_tree.select_key((V1, None))
        await pilot.press("e", "x", "escape")
        await settle(pilot)
    assert (runs / f"metadata_{V1}.json").read_bytes() == before


async def test_edit_notes(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        app.browser.version_tree.select_key((V1, None))
        await pilot.press("n", "end", *" then more", "enter", *"line two", "ctrl+s")
        await settle(pilot)
        assert metadata(runs, V1)["notes"] == "first try then more\nline two"


async def test_trainer_folder_cannot_be_tagged(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        app.browser.version_tree.select_key((TRAINER, None))
        await pilot.press("e")
        await settle(pilot)
        assert not (runs / f"metadata_{TRAINER}.json").exists()
        assert not isinstance(app.screen, HelpScreen)


async def test_delete_version_after_confirmation(runs: Path) -> None:
    before = sorted(p.name for p in runs.iterdir())
    async with open_browser(runs, select=(V1, None)) as (app, pilot):
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        screen = text(app)
        assert f"Delete version {V1}?" in screen
        assert f"metadata_{V1}.json" in screen and "frees" in screen and "KB" in screen
        await pilot.press("n")  # no: nothing happens
        await settle(pilot)
        assert (runs / folder_name(V1)).exists()
        await pilot.press("d", "y")
        await settle(pilot)
        assert (V1, None) not in app.browser.version_tree.nodes_by_key
        # its retrained child survives and moves to the top level
        assert (
            app.browser.version_tree.nodes_by_key[(V2, None)].parent
            is app.browser.version_tree.root
        )
    after = sorted(p.name for p in runs.iterdir())
    assert sorted(set(before) - set(after)) == [f"metadata_{V1}.json", folder_name(V1)]


async def test_delete_checkpoint(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        app.browser.version_tree.select_key((V2, "checkpoint-10"))
        await pilot.press("d")
        await settle(pilot)
        assert "Delete checkpoint" in text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert not (runs / folder_name(V2) / "checkpoint-10").exists()
        assert (runs / folder_name(V2) / "checkpoint-20").exists()
        assert (runs / folder_name(V2) / "adapter_model.safetensors").exists()


async def test_help_lists_every_key(runs: Path) -> None:
    async with open_browser(runs, size=(100, 64)) as (app, pilot):
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        screen = text(app)
        for _key, description in (
            ("/", "Filter"),
            ("space", "Mark"),
            ("c", "Compare"),
            ("t", "Train"),
            ("r", "Retrain"),
            ("d", "Delete"),
            ("e", "Tags"),
            ("n", "Notes"),
            ("q", "Quit"),
        ):
            assert description in screen, description
        assert "eval_loss<0.9" in screen
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)


async def test_command_palette_runs_actions(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"sort")
        await settle(pilot, 0.3)
        assert "Sort" in text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert app.browser.state.sort_key == "eval_loss"


async def test_delete_names_the_children_and_tags_it_affects(runs: Path) -> None:
    async with open_browser(runs, select=(V1, None), size=(120, 40)) as (
        app,
        pilot,
    ):  # tagged "baseline", parent of V2
        await pilot.press("d")
        await settle(pilot)
        screen = text(app)
        assert "1 version trained from it will show without a parent" in screen
        assert V2 in screen.split("trained from it", 1)[1]
        assert "its tags go with it: baseline" in screen
        await pilot.press("n")
        await settle(pilot)
        app.browser.version_tree.select_key((V3, None))  # no children, no tags
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert "trained from it" not in text(app) and "tags go" not in text(app)
