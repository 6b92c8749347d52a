"""ftui reads what the tutorial's own script writes, and what Trainer and peft write.

The folders here come from the real producers, in a few seconds on the tiny model: the
tutorial's script (tests/train/tutorial_script.py, ported to the installed trl) run with
r=4 and r=8, with its per-epoch callback advice, and stopped before `save_model`; peft's
`save_pretrained` with `safe_serialization=False`; a merged full model. Nothing is
hand-written except the damage done to copies.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ftui.cli import main
from ftui.store import Status, scan
from ftui.store.check import check_root
from ftui.store.comparison import compare, side_for
from ftui.train.paths import ASSETS

from . import tutorial_script

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@dataclass
class Tutorial:
    workdir: Path
    root: Path  # workdir/model_versions
    runs: dict[str, dict[str, Any]]  # what each run wrote as metadata, by label


def _next_second() -> None:
    """The tutorial's id is the second a run starts: two runs in one second would share
    a folder (the script's own limit), so wait for the clock to move on."""
    start = datetime.now().strftime("%Y%m%d_%H%M%S")
    while datetime.now().strftime("%Y%m%d_%H%M%S") == start:
        time.sleep(0.05)


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tutorial]:
    workdir = tmp_path_factory.mktemp("tutorial")
    shutil.copytree(ASSETS / "tiny-gpt2", workdir / "tiny-gpt2")  # the script's ./tiny-gpt2
    before = Path.cwd()
    os.chdir(workdir)
    try:
        runs = {}
        for label, options in {
            "r4": {"r": 4},
            "r8": {"r": 8},
            "per_epoch": {"r": 4, "epochs": 2, "per_epoch": True},
            "checkpoints_only": {"r": 8, "epochs": 2, "per_epoch": True, "save_final": False},
        }.items():
            runs[label] = tutorial_script.run(**options)
            _next_second()
    finally:
        os.chdir(before)
    yield Tutorial(workdir, workdir / "model_versions", runs)


def folder(t: Tutorial, label: str) -> Path:
    return t.root / f"v_{t.runs[label]['version_id']}"


def test_each_run_is_listed_once_healthy_with_its_metadata(tutorial: Tutorial) -> None:
    versions = scan(tutorial.root)
    assert sorted(v.id for v in versions) == sorted(r["version_id"] for r in tutorial.runs.values())
    for label, meta in tutorial.runs.items():
        (version,) = [v for v in versions if v.id == meta["version_id"]]
        assert version.problems == () and version.status is Status.COMPLETED, label
        assert version.path == folder(tutorial, label)
        assert version.metadata_path == tutorial.root / f"metadata_{meta['version_id']}.json"
        assert version.num_samples == 3 and version.num_epochs == meta["num_epochs"]
        assert version.base_model == "./tiny-gpt2"  # found beside model_versions/
        assert version.lora.r == meta["lora_config"]["r"] and version.lora.alpha == 32
        assert version.lora.target_modules == ("c_attn",)  # from adapter_config.json
        assert version.kind == "lora"
        assert version.created is not None
    report = check_root(tutorial.root)
    assert report.exit_code == 0, [str(p) for v in report.versions for p in v.problems]


def test_check_exits_0_in_text_json_and_with_the_app_pass(
    tutorial: Tutorial, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--check", str(tutorial.root)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "4 versions, 4 healthy, 0 damaged"
    assert main(["--check", "--no-ui", "--json", str(tutorial.root)]) == 0
    report = json.loads(capsys.readouterr().out)
    ids = {r["version_id"] for r in tutorial.runs.values()}
    assert {v["id"] for v in report["versions"]} == ids and all(
        v["healthy"] and v["layout"] == "tutorial" for v in report["versions"]
    )


def test_the_pair_compares_rank_4_to_8_per_module(tutorial: Tutorial) -> None:
    by_id = {v.id: v for v in scan(tutorial.root)}
    a = by_id[tutorial.runs["r4"]["version_id"]]
    b = by_id[tutorial.runs["r8"]["version_id"]]
    comparison = compare(side_for(a), side_for(b))
    assert comparison.summary().startswith("2 modules, rank 4 → 8"), comparison.summary()
    assert all(m.a is not None and m.b is not None for m in comparison.modules)
    assert [(m.a.rank, m.b.rank) for m in comparison.modules] == [(4, 8), (4, 8)]  # type: ignore[union-attr]


async def test_c_on_the_pair_in_the_app(tutorial: Tutorial) -> None:
    from ftui.app.main import FtuiApp
    from ftui.app.screens.compare import CompareScreen
    from tests.app.app_helpers import settle, text

    r4, r8 = tutorial.runs["r4"]["version_id"], tutorial.runs["r8"]["version_id"]
    app = FtuiApp(tutorial.root, poll_interval=0)
    async with app.run_test(size=(120, 50)) as pilot:
        await settle(pilot)
        for version_id in (r4, r8):
            app.browser.version_tree.select_key((version_id, None))
            await pilot.press("space")
        await pilot.press("c")
        await settle(pilot)
        assert isinstance(app.screen, CompareScreen)
        shown = text(app)
        assert "rank 4 → 8" in shown and r4 in shown and r8 in shown


def test_per_epoch_checkpoints_are_each_checked(tutorial: Tutorial, tmp_path: Path) -> None:
    """The callback's checkpoints (named by step) are read and checked; a truncated one
    makes its version damaged and is named."""
    (version,) = [v for v in scan(tutorial.root) if v.path == folder(tutorial, "per_epoch")]
    assert [c.name for c in version.checkpoints] == ["checkpoint-2", "checkpoint-4"]
    assert all(c.kind == "lora" and c.problems == () for c in version.checkpoints)
    assert [c.epoch for c in version.checkpoints] == [1, 2]
    root = shutil.copytree(tutorial.workdir, tmp_path / "copy") / "model_versions"
    weights = root / version.path.name / "checkpoint-2" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    report = check_root(root)
    assert report.exit_code == 1
    (bad,) = [v for v in report.versions if not v.healthy]
    assert bad.version.id == version.id and bad.status is Status.DAMAGED
    (problem,) = bad.problems
    assert problem.file == f"{version.path.name}/checkpoint-2/adapter_model.safetensors"
    assert "truncated" in problem.reason


def test_checkpoint_only_folders_take_settings_from_the_newest_checkpoint(
    tutorial: Tutorial, tmp_path: Path
) -> None:
    """A run stopped before `save_model`: with the tutorial's metadata and as a bare
    Trainer output_dir, r, alpha, targets and base come from the newest checkpoint."""
    source = folder(tutorial, "checkpoints_only")
    assert not (source / "adapter_model.safetensors").exists()
    (described,) = [v for v in scan(tutorial.root) if v.path == source]
    assert described.problems == () and described.lora.r == 8
    plain = shutil.copytree(source, tmp_path / "output_dir")
    (version,) = scan(tmp_path)
    assert version.id == "output_dir" and version.layout.value == "trainer"
    assert (version.lora.r, version.lora.alpha, version.lora.target_modules) == (8, 32, ("c_attn",))
    assert version.base_model == "./tiny-gpt2" and version.problems == ()
    (only,) = scan(plain)  # the output_dir given as the root is one version too
    assert only.lora.r == 8 and [c.step for c in only.checkpoints] == [2, 4]


def test_a_bare_save_pretrained_folder_as_the_root(tutorial: Tutorial) -> None:
    (version,) = scan(folder(tutorial, "r4"))
    assert version.lora.r == 4 and version.adapter is not None and version.problems == ()


def _base_with_adapter(tutorial: Tutorial, label: str) -> Any:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tutorial.workdir / "tiny-gpt2"))
    return PeftModel.from_pretrained(base, str(folder(tutorial, label)))


def test_a_pickle_adapter_is_reported_never_unpickled(tutorial: Tutorial, tmp_path: Path) -> None:
    model = _base_with_adapter(tutorial, "r4")
    model.save_pretrained(str(tmp_path / "run"), safe_serialization=False)
    checkpoint = tmp_path / "run2" / "checkpoint-5"
    model.save_pretrained(str(checkpoint), safe_serialization=False)
    assert (tmp_path / "run" / "adapter_model.bin").is_file()
    by_id = {v.id: v for v in scan(tmp_path)}
    for version_id, file in (("run", "run"), ("run2", "run2/checkpoint-5")):
        version = by_id[version_id]
        assert version.kind == "pickle" and version.status is Status.DAMAGED
        assert [str(p) for p in version.problems] == [
            f"{file}/adapter_model.bin: pickle format, not read; "
            "re-save with safe_serialization=True"
        ]


def test_a_merged_full_model_is_shown_as_merged(
    tutorial: Tutorial, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    merged = _base_with_adapter(tutorial, "r8").merge_and_unload()
    merged.save_pretrained(str(tmp_path / "merged-run"))
    # The tutorial's layout around a full model (its `save_model` without peft).
    merged.save_pretrained(str(tmp_path / "v_20260101_000000"))
    meta = dict(tutorial.runs["r8"], version_id="20260101_000000", model_name="gpt2")
    (tmp_path / "metadata_20260101_000000.json").write_text(json.dumps(meta))
    versions = {v.id: v for v in scan(tmp_path)}
    assert sorted(versions) == ["20260101_000000", "merged-run"]
    assert all(v.kind == "merged" and v.problems == () for v in versions.values())
    code = main(["--check", "--no-ui", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "merged" in out
