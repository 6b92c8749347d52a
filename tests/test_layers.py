"""The import boundaries of shared/DESIGN.md, checked two ways.

Statically (AST): ftui/store imports none of textual or the HF stack; ftui/train never
imports textual and imports the HF stack only inside functions; only ftui/app imports
textual. Dynamically (a fresh interpreter): what importing each layer really loads.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ftui"
HF_STACK = {"torch", "transformers", "peft", "trl", "datasets", "accelerate", "tokenizers"}
UI = {"textual", "textual_plotext", "plotext", "rich"}


def imports(path: Path, top_level_only: bool) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("path", modules("store"), ids=lambda p: p.name)
def test_store_imports_neither_ui_nor_hf_stack(path: Path) -> None:
    assert not imports(path, top_level_only=False) & (HF_STACK | UI | {"ftui"})


@pytest.mark.parametrize("path", modules("train"), ids=lambda p: p.name)
def test_train_never_imports_ui_and_hf_only_inside_functions(path: Path) -> None:
    assert not imports(path, top_level_only=False) & UI
    assert not imports(path, top_level_only=True) & HF_STACK


def test_only_the_app_imports_textual() -> None:
    outside = [p for p in PACKAGE.rglob("*.py") if "app" not in p.relative_to(PACKAGE).parts]
    offenders = [str(p) for p in outside if imports(p, top_level_only=False) & {"textual"}]
    assert offenders == []


def loaded_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print(' '.join(sorted(set(sys.modules))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {name.split(".")[0] for name in out.stdout.split()}


def test_importing_the_store_loads_no_ui_or_hf_stack() -> None:
    statement = "from ftui.store import *; import ftui.store.query, ftui.store.lora_math"
    assert not loaded_after(statement) & (HF_STACK | UI)


def test_importing_train_api_loads_no_hf_stack() -> None:
    loaded = loaded_after("import ftui.train, ftui.train.events, ftui.train.spec")
    assert not loaded & (HF_STACK | UI)


def test_importing_the_app_loads_no_hf_stack() -> None:
    assert not loaded_after("import ftui.app.main, ftui.cli") & HF_STACK


def test_store_names_load_lazily_and_all_resolve() -> None:
    import ftui.store

    assert sorted(dir(ftui.store)) == sorted(ftui.store.__all__)
    for name in ftui.store.__all__:
        assert getattr(ftui.store, name) is not None
    with pytest.raises(AttributeError):
        ftui.store.no_such_name  # noqa: B018


def test_the_first_frame_leaves_runs_comparisons_and_sizes_unimported() -> None:
    """What `ftui DIR` loads before its first frame (the app, the CLI and the newest
    screenful of the bundled samples) excludes what only later actions use: the first
    frame is timed in bench/bench_app.py, and each of these costs milliseconds."""
    samples = Path(__file__).resolve().parents[1] / "sample_runs"
    code = (
        "import sys, pathlib; import ftui.cli, ftui.app.main; "
        "from ftui.app.loading import first_screenful; "
        f"assert first_screenful(pathlib.Path({str(samples)!r}), 24); "
        "print(' '.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    deferred = {
        "ftui.app.commands",  # the command palette's provider
        "ftui.app.detached",  # starting and following runs
        "ftui.app.run_state",
        "ftui.train.events",
        "ftui.store.comparison",  # the compare screen
        "ftui.store.sizes",  # sizes come after the first frame
        "ftui.app.screens.run",
        "ftui.app.screens.train_form",
    }
    assert not deferred & set(out.stdout.split())
