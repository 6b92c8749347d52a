"""Pilot tests of the compare pane."""

from __future__ import annotations

from pathlib import Path

from app_helpers import V1, V2, V3, notifications, open_browser, settle, text

from ftui.app.main import FtuiApp
from ftui.app.screens.browser import BrowserScreen
from ftui.app.screens.compare import CompareScreen
from ftui.app.widgets.loss_plot import LossPlot


async def open_compare(app: FtuiApp, pilot: object) -> CompareScreen:
    await settle(pilot)  # type: ignore[arg-type]
    assert isinstance(app.screen, CompareScreen), type(app.screen)
    assert app.screen.data is not None
    return app.screen


async def test_compare_marked_pair(runs: Path) -> None:
    async with open_browser(runs, size=(120, 60)) as (app, pilot):
        tree = app.browser.version_tree
        tree.select_key((V1, None))
        await pilot.press("space")
        tree.select_key((V3, None))
        await pilot.press("space")
        assert app.browser.marked == ((V1, None), (V3, None))
        assert "●✓ 20260301_090000" in text(app)
        await pilot.press("c")
        screen = await open_compare(app, pilot)
        shown = text(app)
        assert "different base models: gpt2 vs ftui:tiny-gpt2" in shown
        assert "12 modules, rank 4 → 16, 12 modules shape differs" in shown
        assert "lora_config.r" in shown and "status" in shown
        assert "shape differs" in shown and "4×64 / 192×4" in shown and "16×64 / 192×16" in shown
        assert "learning_rate" not in shown  # equal settings are hidden by default
        plot = screen.query_one(LossPlot)
        assert [s.label for s in plot.series] == ["A train", "A eval", "B train", "B eval"]
        await pilot.press("a")
        assert "training_args.learning_rate" in text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)


async def test_compare_defaults_to_parent(runs: Path) -> None:
    async with open_browser(runs, size=(120, 50)) as (app, pilot):
        app.browser.version_tree.select_key((V2, None))
        await pilot.press("c")
        screen = await open_compare(app, pilot)
        assert screen.data is not None
        assert (screen.data.comparison.a.label, screen.data.comparison.b.label) == (V1, V2)
        assert "different base models" not in text(app)


async def test_compare_checkpoints(runs: Path) -> None:
    async with open_browser(runs, size=(120, 50)) as (app, pilot):
        tree = app.browser.version_tree
        tree.select_key((V2, "checkpoint-10"))
        await pilot.press("space")
        tree.select_key((V2, "checkpoint-30"))
        await pilot.press("c")
        screen = await open_compare(app, pilot)
        assert screen.data is not None
        assert screen.data.comparison.a.label == f"{V2}/checkpoint-10"
        assert "all shapes the same" in text(app)
        # the checkpoints' own histories: 10 and 30 train steps
        plot = screen.query_one(LossPlot)
        assert [len(s.xs) for s in plot.series if "train" in s.label] == [10, 30]


async def test_compare_without_pair_explains(runs: Path) -> None:
    async with open_browser(runs, size=(100, 30)) as (app, pilot):
        app.browser.version_tree.select_key((V1, None))  # no parent, nothing marked
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, BrowserScreen)
        assert any("mark two versions" in n for n in notifications(app))


async def test_compare_fits_80x24(runs: Path) -> None:
    async with open_browser(runs, size=(80, 24)) as (app, pilot):
        app.browser.version_tree.select_key((V2, None))
        await pilot.press("c")
        await open_compare(app, pilot)
        shown = text(app)
        assert "A 20260301_090000" in shown and "B 20260302_090000" in shown
        assert "Back" in shown


async def test_compare_shows_update_norms_and_cosines(runs: Path) -> None:
    """After the shapes, the tensors are read: ‖ΔW‖ per side and the cosine between them."""
    import math

    import numpy as np
    from safetensors.numpy import load_file

    async with open_browser(runs, size=(120, 60)) as (app, pilot):
        app.browser.version_tree.select_key((V2, None))
        await pilot.press("c")
        screen = await open_compare(app, pilot)
        assert screen.updates is not None and screen.data is not None
        shown = text(app)
        assert "‖ΔW‖ A" in shown and "cos(A,B)" in shown and "mean cosine" in shown
        assert "results: final train loss" in shown
        # The first module's norm agrees with forming ΔW = (alpha / r)·B·A by hand.
        side = screen.data.comparison.a
        module = side.adapter.modules[0]
        tensors = load_file(str(side.adapter.path))
        delta = tensors[module.b_tensor].astype(float) @ tensors[module.a_tensor].astype(float)
        scale = side.adapter_config["lora_alpha"] / module.rank
        first = next(u for u in screen.updates if u.module == module.name)
        assert math.isclose(first.norm_a, scale * np.linalg.norm(delta), rel_tol=1e-6)
        assert first.cosine is None or -1.0 <= first.cosine <= 1.0
