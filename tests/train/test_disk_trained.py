"""Prune and export on a version the engine really trained (optimizer state and all)."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.store import check_root, scan
from ftui.store.aliases import set_alias

REPO = Path(__file__).resolve().parents[2]


def du_sb(path: Path) -> int:
    out = subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def ftui(*args: str, limit_file_size: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}

    def limit() -> None:  # a disk that fills: writes past the limit fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        assert limit_file_size is not None
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_size, limit_file_size))

    return subprocess.run(
        [sys.executable, "-m", "ftui.cli", *args], capture_output=True, text=True, env=env,
        timeout=300, preexec_fn=limit if limit_file_size else None,
    )  # fmt: skip


@pytest.fixture
def trained_copy(trained, tmp_path: Path) -> Path:  # noqa: ANN001
    """The shared run alone (other tests add retrained children to the shared root)."""
    from ftui.store.naming import folder_name, metadata_name

    root = tmp_path / "versions"
    root.mkdir()
    version_id = trained.result.version_id
    shutil.copy2(trained.root / metadata_name(version_id), root)
    shutil.copytree(trained.root / folder_name(version_id), root / folder_name(version_id),
                    symlinks=True)  # fmt: skip
    return root


def _only(root: Path):  # noqa: ANN202
    (version,) = scan(root)
    return version


def test_prune_keep_best_and_drop_state_then_resume(trained_copy: Path) -> None:
    root = trained_copy
    version = _only(root)
    steps = [c.step for c in version.checkpoints]
    assert len(steps) == 2
    for checkpoint in version.checkpoints:
        assert (checkpoint.path / "optimizer.pt").is_file()  # the real Trainer wrote state
    before = du_sb(root)
    meta_before = version.metadata_path.stat().st_size  # type: ignore[union-attr]
    args = ("prune", str(root), "--keep-best", "1", "--drop-optimizer-state")
    planned = json.loads(ftui(*args, "--json").stdout)["freed"]
    assert planned > 0
    done = ftui(*args, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["freed"] == planned
    growth = version.metadata_path.stat().st_size - meta_before  # type: ignore[union-attr]
    assert before - du_sb(root) == planned - growth
    assert check_root(root).exit_code == 0
    after = _only(root)
    last = max(after.checkpoints, key=lambda c: c.step)
    assert last.step == max(steps)
    assert (last.path / "optimizer.pt").is_file() and (last.path / "scheduler.pt").is_file()
    best = min(version.checkpoints, key=lambda c: c.eval_loss)  # type: ignore[arg-type, return-value]
    assert after.checkpoint(best.name) is not None
    for checkpoint in after.checkpoints:
        assert (checkpoint.path / "adapter_model.safetensors").is_file()
        if checkpoint.step != last.step:
            assert not list(checkpoint.path.glob("optimizer*"))
    record = json.loads(after.metadata_path.read_text())  # type: ignore[union-attr]
    assert record["pruned"] and all(e["bytes"] > 0 for e in record["pruned"])
    _resume(root, after, last.path, per_epoch=min(steps))


def _resume(root: Path, version, checkpoint: Path, per_epoch: int) -> None:  # noqa: ANN001
    """The Trainer's own resume from the kept last checkpoint: weights, optimizer,
    scheduler and RNG state, one more epoch."""
    from transformers import TrainerCallback

    from ftui.train.engine import _build_trainer, _Run
    from ftui.train.spec import RunSpec

    spec = RunSpec.from_dict(dict(version.metadata["spec"])).with_overrides({"epochs": "3"})
    spec = spec.normalized()
    run = _Run(spec, None, None)
    prepared = run._prepare(spec)
    prepared.args["output_dir"] = str(root / "resumed")
    trainer = _build_trainer(prepared, TrainerCallback())
    output = trainer.train(resume_from_checkpoint=str(checkpoint))
    assert trainer.state.global_step == 3 * per_epoch
    assert output.metrics["train_loss"] > 0


def _logits(model, text: str = "hello world, this is a test"):  # noqa: ANN001, ANN202
    import torch

    from ftui.train.modelprep import load_tokenizer

    tokenizer = load_tokenizer("ftui:tiny-gpt2")
    with torch.no_grad():
        return model(**tokenizer(text, return_tensors="pt")).logits


def test_export_adapter_and_merged_load_offline_with_the_same_logits(
    trained_copy: Path, tmp_path: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ftui.train.modelprep import model_location

    version = _only(trained_copy)
    set_alias(trained_copy, "prod", version.id)
    adapter_out, merged_out = tmp_path / "adapter", tmp_path / "merged"
    proc = ftui("export", "prod", str(adapter_out), "--root", str(trained_copy))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(adapter_out)
    names = {p.name for p in adapter_out.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md",
            "tokenizer_config.json"} <= names  # fmt: skip
    card = (adapter_out / "README.md").read_text()
    assert version.data_fingerprint and version.data_fingerprint in card
    assert "r: 4, alpha: 8" in card
    proc = ftui("export", "v_" + version.id, str(merged_out), "--merge", "--root",
                str(trained_copy))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (merged_out / "model.safetensors").is_file()
    assert not (merged_out / "adapter_model.safetensors").exists()

    base_path, _ = model_location("ftui:tiny-gpt2")
    base = AutoModelForCausalLM.from_pretrained(base_path, local_files_only=True)
    reference = PeftModel.from_pretrained(base, str(version.path)).eval()
    expected = _logits(reference)
    exported = AutoModelForCausalLM.from_pretrained(str(adapter_out), local_files_only=True)
    merged = AutoModelForCausalLM.from_pretrained(str(merged_out), local_files_only=True)
    torch.testing.assert_close(_logits(exported.eval()), expected, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(_logits(merged.eval()), expected, atol=1e-5, rtol=1e-4)
    base_only = _logits(AutoModelForCausalLM.from_pretrained(base_path).eval())
    assert not torch.allclose(base_only, expected, atol=1e-5)  # the adapter does something


def test_export_refuses_a_non_empty_folder_and_leaves_nothing_on_a_full_disk(
    trained_copy: Path, tmp_path: Path
) -> None:
    version = _only(trained_copy)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    proc = ftui("export", version.id, str(busy), "--root", str(trained_copy))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert [p.name for p in busy.iterdir()] == ["keep.txt"]
    target = tmp_path / "out" / "full"
    proc = ftui("export", version.id, str(target), "--merge", "--root", str(trained_copy),
                limit_file_size=100_000)  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: export failed")
    assert not target.exists()
    assert list((tmp_path / "out").iterdir()) == []  # no half-written folder, hidden or not
    checkpoint = version.checkpoints[0]
    proc = ftui("export", f"{version.id}:{checkpoint.step}", str(tmp_path / "ck"),
                "--root", str(trained_copy))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "checkpoint" in (tmp_path / "ck" / "README.md").read_text()
