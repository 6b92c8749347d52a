"""A retrain starts from what the scanner shows: the spec is built from the scanned
`Version` (and a checkpoint's own config), with the store's one precedence rule.

Folders come from the real producers: peft's `save_pretrained` (a tutorial-layout version
with a checkpoint saved under another LoRA config) and the engine (the shared trained
run, copied). Then the metadata is made to disagree with adapter_config.json, the way a
hand-edited or foreign metadata file does; the oracle is what `scan` and `ftui inspect`
report for the same folder.
"""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from ftui.cli import main
from ftui.store import scan
from ftui.store.writer import metadata_path, update_metadata
from ftui.train.paths import ASSETS
from ftui.train.retrain import spec_for_retrain
from ftui.train.spec import SpecError

from .conftest import TrainedRun

VID = "20260301_120000"
TINY = ASSETS / "tiny-gpt2"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::FutureWarning")


def save_adapter(folder: Path, **lora: Any) -> None:
    """An adapter as peft saves it, for the built-in tiny GPT-2."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(TINY)
    get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora)).save_pretrained(folder)


@pytest.fixture(scope="module")
def disagreeing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tutorial-layout version whose metadata says r=8/alpha=32/dropout=0.1 on c_proj,
    while its adapter (peft) is r=4/alpha=8/dropout=0.05 on c_attn, and whose
    checkpoint-3 was saved with r=2/alpha=4 on c_attn and c_proj."""
    root = tmp_path_factory.mktemp("disagree") / "model_versions"
    folder = root / f"v_{VID}"
    save_adapter(folder, r=4, lora_alpha=8, lora_dropout=0.05, target_modules=["c_attn"])
    save_adapter(folder / "checkpoint-3", r=2, lora_alpha=4, lora_dropout=0.0,
                 target_modules=["c_attn", "c_proj"])  # fmt: skip
    meta = {
        "version_id": VID,
        "timestamp": "2026-03-01T12:00:00",
        "model_name": str(TINY),
        "lora_config": {
            "r": 8,
            "lora_alpha": 32,
            "lora_dropout": 0.1,
            "target_modules": ["c_proj"],
        },
        "num_samples": 48,
        "num_epochs": 2,
    }
    (root / f"metadata_{VID}.json").write_text(json.dumps(meta, indent=2))
    return root


def inspected(root: Path, name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """`ftui inspect NAME --json`: the ranks, alphas and modules it shows."""
    capsys.readouterr()
    assert main(["inspect", "--root", str(root), name, "--json"]) == 0
    modules = json.loads(capsys.readouterr().out)["modules"]
    return {
        "r": {m["rank"] for m in modules},
        "alpha": {m["alpha"] for m in modules},
        "targets": {m["module"].rsplit(".", 1)[-1] for m in modules},
    }


def test_a_retrain_takes_the_settings_scan_and_inspect_show(
    disagreeing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (version,) = scan(disagreeing)
    lora = version.lora
    assert (lora.r, lora.alpha, lora.dropout, lora.target_modules) == (4, 8.0, 0.05, ("c_attn",))
    spec = spec_for_retrain(disagreeing, VID)
    assert (spec.r, spec.alpha, spec.dropout) == (lora.r, lora.alpha, lora.dropout)
    assert spec.target_modules == list(lora.target_modules)
    assert (spec.use_rslora, spec.bias) == (lora.use_rslora, lora.bias)
    assert spec.base_model == version.base_model == str(TINY)  # the metadata's model_name
    assert spec.epochs == version.num_epochs == 2
    shown = inspected(disagreeing, VID, capsys)
    assert shown == {"r": {spec.r}, "alpha": {spec.alpha}, "targets": set(spec.target_modules)}


def test_a_retrain_from_a_checkpoint_takes_that_checkpoints_own_config(
    disagreeing: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (version,) = scan(disagreeing)
    ckpt = version.checkpoint("checkpoint-3")
    assert ckpt is not None and ckpt.adapter_config["r"] == 2
    assert (ckpt.lora.r, ckpt.lora.alpha) == (2, 4.0)
    assert sorted(ckpt.lora.target_modules) == ["c_attn", "c_proj"]  # peft's order: a set's
    for name, checkpoint in ((f"{VID}:3", None), (VID, "checkpoint-3")):
        spec = spec_for_retrain(disagreeing, name, checkpoint=checkpoint)
        assert spec.parent_checkpoint == "checkpoint-3"
        assert (spec.r, spec.alpha, spec.dropout) == (2, 4.0, 0.0)
        assert spec.target_modules == ["c_attn", "c_proj"]
    shown = inspected(disagreeing, f"{VID}:3", capsys)
    assert shown == {"r": {2}, "alpha": {4.0}, "targets": {"c_attn", "c_proj"}}

    # --continue is checked against the adapter it continues: the checkpoint's r=2
    continued = spec_for_retrain(disagreeing, f"{VID}:3", continue_training=True)
    assert continued.continue_from_parent and continued.r == 2
    with pytest.raises(SpecError, match=r"r=2 in .*checkpoint-3"):
        spec_for_retrain(disagreeing, f"{VID}:3", overrides={"r": "4"}, continue_training=True)
    assert spec_for_retrain(disagreeing, VID, continue_training=True).r == 4
    with pytest.raises(SpecError, match=r"has no checkpoint-9 \(available: checkpoint-3\)"):
        spec_for_retrain(disagreeing, f"{VID}:9")


def test_an_ftui_versions_recorded_spec_yields_to_its_adapter_config(
    trained: TrainedRun, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "versions"
    shutil.copytree(trained.root, root)
    vid = trained.result.version_id
    untouched = spec_for_retrain(root, vid)
    recorded = json.loads(metadata_path(root, vid).read_text())["spec"]
    lineage = {"root", "parent", "parent_checkpoint", "continue_from_parent"}
    same = {k: v for k, v in untouched.to_dict().items() if k not in lineage}
    assert same == {k: recorded[k] for k in same}  # an untouched version: nothing changed

    def disagree(record: dict[str, Any]) -> None:
        record["lora_config"].update(r=16, lora_alpha=99, lora_dropout=0.3)
        record["spec"].update(r=16, alpha=99, dropout=0.3)

    update_metadata(metadata_path(root, vid), disagree)
    version = next(v for v in scan(root) if v.id == vid)  # other tests add its children
    assert (version.lora.r, version.lora.alpha) == (4, 8.0)  # adapter_config.json wins
    spec = spec_for_retrain(root, vid)
    assert (spec.r, spec.alpha, spec.dropout) == (
        version.lora.r, version.lora.alpha, version.lora.dropout,
    )  # fmt: skip
    assert spec.dropout != 0.3
    assert spec.target_modules is None  # recorded as the architecture's default: kept so
    assert (spec.epochs, spec.learning_rate, spec.max_length) == (2, 1e-3, 64)  # the recipe
    shown = inspected(root, vid, capsys)
    assert shown["r"] == {spec.r} and shown["alpha"] == {spec.alpha}


def test_a_checkpoint_the_scan_left_out_is_refused_with_its_reason(
    trained: TrainedRun, tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    shutil.copytree(trained.root, root)
    vid = trained.result.version_id
    with open(root / f"v_{vid}" / "checkpoint-12" / "optimizer.pt", "r+b") as handle:
        handle.truncate(10)  # no longer what the run recorded: never offered
    with pytest.raises(SpecError, match=r"checkpoint-12 cannot be used: incomplete checkpoint"):
        spec_for_retrain(root, f"{vid}:12")
    assert spec_for_retrain(root, f"{vid}:6").parent_checkpoint == "checkpoint-6"


def test_retrain_reads_no_file_itself() -> None:
    """The spec comes from the scanned Version only: retrain.py opens nothing and has no
    precedence rule of its own (`folder_weights.lora_settings` is the one)."""
    source = (Path(__file__).resolve().parents[2] / "ftui" / "train" / "retrain.py").read_text()
    tree = ast.parse(source)
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    calls = {
        node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
    }
    assert not imported & {"read_json_object", "ReadError", "read_config", "lora_settings"}
    assert not calls & {"open", "read_text", "read_bytes", "read_json_object", "glob", "iterdir"}
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    strings = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    }
    assert not {s for s in strings if "adapter_config" in s or "lora_config" in s}
