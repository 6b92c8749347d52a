"""Pilot tests of browsing: tree, details, filter, sort, marks, live updates, untrusted text."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

from app_helpers import NASTY_NOTES, TRAINER, V1, V2, V3, V4, open_browser, settle, text
from synth import write_version

from ftui.app.main import FtuiApp
from ftui.app.widgets.loss_plot import LossPlot
from ftui.store.naming import folder_name


async def test_tree_shows_versions_nested_with_checkpoints(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        tree = app.browser.version_tree
        child = tree.nodes_by_key[(V2, None)]
        assert child.parent is tree.nodes_by_key[(V1, None)]  # retrained under its parent
        assert [n.data.key for n in child.children if n.data] == [
            (V2, "checkpoint-10"),
            (V2, "checkpoint-20"),
            (V2, "checkpoint-30"),
        ]
        screen = text(app)
        for version_id in (V1, V2, V3, V4, TRAINER):
            assert version_id in screen
        assert "✗ 20260303_090000 r16/a32" in screen  # failed: symbol, id, r/alpha, loss
        assert "! 20260304_090000" in screen  # running with a dead process: interrupted
        assert "5 versions" in screen


async def test_details_show_metadata_files_modules_and_plot(runs: Path) -> None:
    async with open_browser(runs, size=(120, 60)) as (app, pilot):
        assert app.browser.version_tree.select_key((V2, None))
        await settle(pilot)
        details = app.browser.details
        assert details.loaded is not None and details.loaded.selection.key == (V2, None)
        plot = details.query_one(LossPlot)
        assert plot.point_count == 30 + 3  # 30 train steps, 3 evaluations
        assert plot.epoch_steps == [10, 20, 30]
        await pilot.press("enter")  # open: the details full screen
        await settle(pilot)
        screen = text(app)
        for expected in (
            "base model gpt2",
            "parent",
            V1,
            "learning_rate",
            "tags",
            "best",
            "adapter_model.safetensors",
            "checkpoint-10/adapter_config.json",
            "transformer.h.0.attn.c_attn",
            "8×64",
            "192×8",
            "LoRA modules",
        ):
            assert expected in screen, expected
        await pilot.press("escape")
        await settle(pilot)
        assert app.browser.version_tree.display


async def test_checkpoint_details(runs: Path) -> None:
    async with open_browser(runs, select=(V2, "checkpoint-20"), size=(120, 50)) as (app, pilot):
        screen = text(app)
        assert f"{V2}/checkpoint-20" in screen
        assert "epoch      2" in screen or "epoch 2" in screen


async def test_untrusted_text_is_shown_literally(runs: Path) -> None:
    async with open_browser(runs, select=(V2, None), size=(160, 60)) as (app, pilot):
        screen = text(app)
        assert "[bold]not bold[/] [link=http://x]link[/link] \\x1b[31mred?" in screen
        assert NASTY_NOTES not in screen  # the raw escape character never reaches the screen
        app.browser.version_tree.select_key((V3, None))
        await settle(pilot)
        assert "CUDA out of memory [red]boom[/red]" in text(app)


async def test_keys_move_and_expand(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        tree = app.browser.version_tree
        assert tree.selection is not None and tree.selection.version.id == V4
        await pilot.press("j", "j", "j")
        assert tree.selection is not None and tree.selection.key == (V2, None)
        await pilot.press("l", "j")
        assert tree.selection is not None and tree.selection.key == (V2, "checkpoint-10")
        await pilot.press("h")  # from a checkpoint: back to its version
        assert tree.selection is not None and tree.selection.key == (V2, None)
        await pilot.press("k")
        assert tree.selection is not None and tree.selection.key == (V1, None)


async def test_filter_expression_and_text(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        await pilot.press("slash", *"r=16")
        await settle(pilot)
        keys = [k for k in app.browser.version_tree.nodes_by_key if k[1] is None]
        assert keys == [(V3, None)]
        assert "(1 shown)" in text(app)
        await pilot.press("enter")
        assert app.browser.version_tree.has_focus
        await pilot.press("slash", *("\b" * 0))
        app.browser.query_one("#filter").value = "tag:best"  # type: ignore[attr-defined]
        await settle(pilot)
        assert [k for k in app.browser.version_tree.nodes_by_key if k[1] is None] == [(V2, None)]
        app.browser.query_one("#filter").value = "eval_loss<oops"  # type: ignore[attr-defined]
        await settle(pilot)
        assert "not a number" in text(app)
        await pilot.press("escape")  # clears the filter
        await settle(pilot)
        assert len([k for k in app.browser.version_tree.nodes_by_key if k[1] is None]) == 5
        await pilot.press("slash", *"trainer", "enter")
        await settle(pilot)
        assert [k for k in app.browser.version_tree.nodes_by_key if k[1] is None] == [
            (TRAINER, None)
        ]


async def test_sort_cycles(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        tree = app.browser.version_tree

        def top() -> list[str]:
            return [n.data.version.id for n in tree.root.children if n.data]

        assert top() == [V4, V3, V1, TRAINER]  # newest first
        await pilot.press("s")
        await settle(pilot)
        assert "sort: eval loss" in text(app)
        evals = [app.browser.state.by_id[v].metrics.final_eval_loss for v in top()]
        known = [x for x in evals if x is not None]
        assert known == sorted(known) and evals[: len(known)] == known  # unknown last
        await pilot.press("s")
        await settle(pilot)
        assert "sort: train loss" in text(app)
        trains = [app.browser.state.by_id[v].metrics.final_train_loss for v in top()]
        assert trains == sorted(trains)  # type: ignore[type-var]
        await pilot.press("s")
        await settle(pilot)
        assert "sort: name" in text(app)
        assert top() == sorted(top())


async def test_rows_say_which_loss_they_show(runs: Path) -> None:
    async with open_browser(runs, size=(120, 30)) as (app, pilot):
        screen = text(app)
        v1 = app.browser.state.by_id[V1]
        assert v1.metrics.final_eval_loss is not None
        assert f"{V1} r4/a8 eval {v1.metrics.final_eval_loss:.3f}" in screen
        await pilot.press("s", "s")  # train loss: the rows switch to it
        await settle(pilot)
        assert f"{V1} r4/a8 train {v1.metrics.final_train_loss:.3f}" in text(app)


async def test_S_reverses_the_sort_and_f_flattens_the_tree(runs: Path) -> None:
    async with open_browser(runs, size=(120, 30)) as (app, pilot):
        tree = app.browser.version_tree

        def top() -> list[str]:
            return [n.data.version.id for n in tree.root.children if n.data]

        assert top() == [V4, V3, V1, TRAINER]  # V2 nests under its parent V1
        await pilot.press("S")
        await settle(pilot)
        assert top() == [TRAINER, V1, V3, V4]  # oldest first
        assert "sort: newest first (reversed)" in text(app)
        await pilot.press("f")  # flat: every version a top-level row, in sort order
        await settle(pilot)
        assert top() == [TRAINER, V1, V2, V3, V4]
        assert "flat" in text(app)
        await pilot.press("S", "s")  # best eval loss first, whatever the lineage
        await settle(pilot)
        evals = {v: app.browser.state.by_id[v].metrics.final_eval_loss for v in top()}
        best = min((e, v) for v, e in evals.items() if e is not None)[1]
        assert top()[0] == best
        await pilot.press("f")
        await settle(pilot)
        assert V2 not in top()


async def test_new_versions_appear_without_restart(runs: Path) -> None:
    app = FtuiApp(runs, poll_interval=0.1)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        write_version(runs, "20260305_090000", seed=9, timestamp=datetime(2026, 3, 5, 9))
        for _ in range(50):
            await pilot.pause(0.1)
            if ("20260305_090000", None) in app.browser.version_tree.nodes_by_key:
                break
        assert ("20260305_090000", None) in app.browser.version_tree.nodes_by_key
        shutil.rmtree(runs / folder_name(V3))
        (runs / f"metadata_{V3}.json").unlink()
        for _ in range(50):
            await pilot.pause(0.1)
            if (V3, None) not in app.browser.version_tree.nodes_by_key:
                break
        assert (V3, None) not in app.browser.version_tree.nodes_by_key


async def test_missing_root_is_shown_not_crashed(tmp_path: Path) -> None:
    root = tmp_path / "nope"
    app = FtuiApp(root, poll_interval=0.1)
    async with app.run_test(size=(200, 24)) as pilot:
        await settle(pilot)
        assert "no such folder" in text(app)
        assert "press t to train the first version here" in text(app)
        plots = app.browser.details.query(LossPlot)
        assert not any(plot.display for plot in plots)  # no empty frame
        # The folder appearing later (a first run from another shell) is picked up.
        write_version(root, "20260305_090000", seed=9, timestamp=datetime(2026, 3, 5, 9))
        for _ in range(50):
            await pilot.pause(0.1)
            if ("20260305_090000", None) in app.browser.version_tree.nodes_by_key:
                break
        await settle(pilot)
        assert "no such folder" not in text(app)
        assert app.browser.details.query_one(LossPlot).display


async def test_large_folder_shows_first_batch_early(tmp_path: Path) -> None:
    root = tmp_path / "many"
    from synth import write_many

    write_many(root, 40)
    app = FtuiApp(root, poll_interval=0)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "40 versions" in text(app)
        assert app.browser.scan_complete


async def test_first_frame_lists_the_newest_screenful_before_the_scan(tmp_path: Path) -> None:
    """The first frame already has rows: the newest screenful, read before it; the full
    scan and the details wait until it is out."""
    from synth import write_many

    root = tmp_path / "many"
    write_many(root, 40)  # one minute apart: the ids sort by time

    app = FtuiApp(root, poll_interval=0)
    seen = []
    first_frame_out = app._first_frame_out

    def record() -> None:
        browser = app.browser
        ids = [key[0] for key in browser.version_tree.nodes_by_key]
        seen.append((ids, browser.scan_id, list(browser.details.query("#details-plot"))))
        first_frame_out()

    app._first_frame_out = record  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        [(ids, scans_started, plots)] = seen
        newest = sorted((p.name[9:-5] for p in root.glob("metadata_*.json")), reverse=True)
        assert ids == newest[:24]  # a screenful (24 rows), newest first
        assert scans_started == 0 and not plots  # the rest waited for the first frame
        assert "40 versions" in text(app) and app.browser.scan_complete
        assert app.browser.details.query("#details-plot")  # and then came


async def test_losses_from_histories_fill_in_the_rows(runs: Path) -> None:
    """Tutorial versions record no loss: it is read from trainer_state.json after the
    first screen and the rows are relabelled."""
    from ftui.store import scan
    from ftui.store.history import with_history_metrics

    scanned = {v.id: v for v in scan(runs)}
    assert scanned[V1].final_loss is None  # nothing in the metadata: must come from history
    expected = with_history_metrics(scanned[V1]).final_loss
    assert expected is not None
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        node = app.browser.version_tree.nodes_by_key[(V1, None)]
        assert app.browser.state.by_id[V1].final_loss == expected
        assert f"{expected:.3f}" in str(node.label)


async def test_enter_opens_the_details_full_screen_and_escape_returns(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        browser = app.browser
        assert browser.version_tree.select_key((V1, None))
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert browser.maximized is browser.details  # full screen, not just focus
        assert V3 not in text(app)  # the tree is gone from view
        await pilot.press("escape")
        await settle(pilot)
        assert browser.maximized is None and browser.version_tree.has_focus
        await pilot.press("j")  # the keys move the tree again
        await settle(pilot)
        assert browser.state.selected == (V2, None)


async def test_a_filter_that_matches_nothing_clears_the_details(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        await pilot.press("slash", *"eval_loss<0.0001", "enter")
        await settle(pilot)
        screen = text(app)
        assert "no versions match the filter" in screen
        assert "base model" not in screen and "LoRA modules" not in screen
        assert app.browser.state.selection is None


async def test_footer_fits_80_columns_with_help_and_quit(runs: Path) -> None:
    async with open_browser(runs, size=(80, 24)) as (app, pilot):
        footer = text(app).splitlines()[-1]
        assert "? Help" in footer and "q Quit" in footer, footer


async def test_nested_rows_keep_their_loss_at_80_columns(runs: Path) -> None:
    async with open_browser(runs, size=(80, 24)) as (app, pilot):
        v2 = app.browser.state.by_id[V2]
        assert app.browser.version_tree.select_key((V2, None))  # nested under V1
        await settle(pilot)
        assert f"{V2} r8/a16 eval {v2.metrics.final_eval_loss:.3f}" in text(app)
