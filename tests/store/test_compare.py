"""Comparing versions: only differing settings by default, a per-module LoRA diff."""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.numpy import save_file

from ftui.store import ModuleStatus, compare, scan, side_for
from ftui.store.comparison import diff_mappings
from ftui.store.fields import flatten
from ftui.testing.synth import lora_tensors, write_version


def test_flatten_nested_keys() -> None:
    assert flatten({"a": {"b": 1, "c": {"d": [1]}}, "e": {}}) == {"a.b": 1, "a.c.d": [1], "e": {}}
    diffs = diff_mappings({"x": {"y": 1, "z": 2}}, {"x": {"y": 1, "z": 3}, "w": 0})
    assert [(d.key, d.a, d.b) for d in diffs if d.differs] == [("x.z", 2, 3), ("w", None, 0)]


def test_compare_rank_4_with_rank_8(root: Path) -> None:
    new, old = scan(root)
    result = compare(side_for(old), side_for(new))
    keys = {d.key for d in result.differing_settings}
    assert {"lora_config.r", "lora_config.lora_alpha"} <= keys
    # Each setting once: adapter_config's copy of r is not repeated; no ids or times.
    assert not keys & {"adapter_config.r", "model_name", "timestamp", "version_id"}
    assert all(m.status is ModuleStatus.SHAPE_DIFFERS for m in result.modules)
    assert result.summary() == "4 modules, rank 4 → 8, 4 modules shape differs"
    assert not result.base_models_differ


def test_modules_only_on_one_side_and_base_models(tmp_path: Path) -> None:
    write_version(tmp_path, "v_a", r=4, layers=2, base_model="gpt2")
    b = write_version(tmp_path, "v_b", r=4, layers=3, base_model="/models/llama")
    tensors = lora_tensors(4, layers=3)
    del tensors["base_model.model.transformer.h.0.attn.c_proj.lora_A.weight"]
    del tensors["base_model.model.transformer.h.0.attn.c_proj.lora_B.weight"]
    save_file(tensors, str(b / "adapter_model.safetensors"))
    meta = tmp_path / "metadata_v_b.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "model_name": "/models/llama"}))
    versions = {v.id: v for v in scan(tmp_path)}
    result = compare(side_for(versions["v_a"]), side_for(versions["v_b"]))
    statuses = [m.status for m in result.modules]
    assert statuses.count(ModuleStatus.ONLY_A) == 1 and statuses.count(ModuleStatus.ONLY_B) == 2
    assert statuses.count(ModuleStatus.SAME) == 3
    assert result.summary() == "6 modules, rank 4, 1 module only in A, 2 modules only in B"
    assert result.base_models_differ


def test_compare_a_checkpoint(root: Path) -> None:
    import shutil

    folder = root / "v_20260102_100000"
    (folder / "checkpoint-4").mkdir()
    shutil.copy(root / "v_20260101_100000" / "adapter_model.safetensors", folder / "checkpoint-4")
    version = {v.id: v for v in scan(root)}["20260102_100000"]
    side = side_for(version, version.checkpoints[0])
    assert side.label == "20260102_100000/checkpoint-4" and side.adapter is not None
    assert compare(side, side_for(version)).summary().startswith("4 modules, rank 4 → 8")
    missing = side_for(
        version, version.checkpoints[0].__class__("checkpoint-9", folder / "nope", 9)
    )
    assert missing.adapter is None and "missing" in (missing.error or "")


def test_ftui_versions_compare_their_spec_once_and_results_apart() -> None:
    from ftui.store.comparison import metric_pairs

    samples = Path(__file__).resolve().parents[2] / "sample_runs"
    child = next(v for v in scan(samples) if v.parent is not None)
    parent = next(v for v in scan(samples) if v.id == child.parent.version_id)
    result = compare(side_for(parent), side_for(child))
    keys = [d.key for d in result.differing_settings]
    assert "spec.learning_rate" in keys and "parent.version_id" in keys
    assert not [k for k in keys if k.split(".")[0] in ("metrics", "training_args", "lora_config")]
    names = [name for name, _, _ in metric_pairs(result)]
    assert names[:2] == ["final_train_loss", "final_eval_loss"]


def test_two_checkpoints_compare_with_their_own_losses() -> None:
    """Each side is the checkpoint: its loss at its step, its history up to it."""
    from ftui.store.comparison import metric_pairs
    from ftui.store.history import load_history, load_selection_history

    samples = Path(__file__).resolve().parents[2] / "sample_runs"
    version = next(v for v in scan(samples) if len(v.checkpoints) >= 2)
    first, last = version.checkpoints[0], version.checkpoints[-1]
    pairs = {n: (a, b) for n, a, b in metric_pairs(compare(side_for(version, first),
                                                            side_for(version, last)))}  # fmt: skip
    assert pairs["final_train_loss"] == (first.train_loss, last.train_loss)
    assert pairs["final_eval_loss"] == (first.eval_loss, last.eval_loss)
    assert first.eval_loss != last.eval_loss
    early = load_selection_history(version, first)
    assert early.train and max(p.step for p in early.train) <= first.step
    assert max(p.step for p in load_history(version)[0].train) > first.step
