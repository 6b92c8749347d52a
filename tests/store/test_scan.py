"""Scanning: every layout users already have is read; damage is reported, never raised."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from synth import write_version

from ftui.store import Layout, RootError, Status, scan
from ftui.store.history import load_history, with_history_metrics

SAMPLES = Path(__file__).resolve().parents[2] / "sample_runs"


def by_id(root: Path) -> dict:
    return {v.id: v for v in scan(root)}


def test_tutorial_layout_is_read_with_its_fields(root: Path) -> None:
    versions = scan(root)
    assert [v.id for v in versions] == ["20260102_100000", "20260101_100000"]  # newest first
    v = versions[0]
    assert v.layout is Layout.TUTORIAL and v.status is Status.COMPLETED
    assert v.base_model == "gpt2"
    assert (v.lora.r, v.lora.alpha, v.lora.dropout) == (8, 16.0, 0.05)
    assert v.lora.target_modules == ("c_attn", "c_proj")
    assert v.num_samples == 200 and v.num_epochs == 3
    assert v.adapter is not None and v.adapter.ranks == {8}
    assert len(v.adapter.modules) == 4  # 2 layers x (c_attn, c_proj)
    assert v.adapter.modules[0].a_shape == (8, 64) and v.adapter.modules[0].b_shape == (192, 8)
    assert v.problems == ()


def test_history_is_lazy_and_gives_metrics(root: Path) -> None:
    v = scan(root)[0]
    assert v.metrics.final_train_loss is None  # the tutorial metadata records no loss
    history, problems = load_history(v)
    assert problems == [] and len(history.train) == 12 and len(history.eval) == 3
    assert history.epoch_steps == (4, 8, 12)
    filled = with_history_metrics(v)
    assert filled.metrics.final_train_loss == history.train[-1].loss
    assert filled.metrics.best_eval_loss == min(p.loss for p in history.eval)
    assert filled.final_loss == history.eval[-1].loss


def test_ftui_layout_with_checkpoints_parent_and_status(root: Path) -> None:
    folder = root / "v_20260102_100000"
    for step in (4, 8):
        ckpt = folder / f"checkpoint-{step}"
        ckpt.mkdir()
        shutil.copy(folder / "adapter_model.safetensors", ckpt)
    meta_path = root / "metadata_20260102_100000.json"
    meta = json.loads(meta_path.read_text())
    meta.update(
        schema_version=1, status="cancelled", tags=["best", 3], notes="hello",
        parent={"version_id": "20260101_100000", "checkpoint": "checkpoint-4",
                "mode": "continue"},
        epochs=[{"epoch": 1, "step": 4, "checkpoint": "checkpoint-4", "train_loss": 2.0,
                 "eval_loss": 2.1}],
        metrics={"final_train_loss": 1.5, "final_eval_loss": 1.7},
        data={"fingerprint": "sha256:abc", "num_samples": 10},
    )  # fmt: skip
    meta_path.write_text(json.dumps(meta))
    v = by_id(root)["20260102_100000"]
    assert v.layout is Layout.FTUI and v.status is Status.CANCELLED
    assert v.tags == ("best",) and v.notes == "hello"
    assert v.parent is not None and v.parent.checkpoint == "checkpoint-4"
    assert v.parent.mode == "continue"
    assert [c.name for c in v.checkpoints] == ["checkpoint-4", "checkpoint-8"]
    first, second = v.checkpoints
    assert (first.epoch, first.train_loss, first.eval_loss) == (1.0, 2.0, 2.1)
    assert second.epoch is None  # no metadata entry and no trainer_state: unknown, not a crash
    assert v.final_loss == 1.7 and v.data_fingerprint == "sha256:abc"


def test_plain_trainer_output_folder(tmp_path: Path) -> None:
    donor = write_version(tmp_path / "donor", "v_x", r=4, layers=1, history_entries=8)
    run = tmp_path / "root" / "my-run"
    for step in (4, 8):
        ckpt = run / f"checkpoint-{step}"
        ckpt.mkdir(parents=True)
        for name in ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json"):
            shutil.copy(donor / name, ckpt)
    (tmp_path / "root" / "not-a-run").mkdir()
    versions = scan(tmp_path / "root")
    assert [v.id for v in versions] == ["my-run"]
    v = versions[0]
    assert v.layout is Layout.TRAINER and v.status is Status.COMPLETED
    assert [c.step for c in v.checkpoints] == [4, 8]
    assert v.checkpoints[-1].epoch is not None and v.checkpoints[-1].train_loss is not None
    assert load_history(v)[0].train  # read from the latest checkpoint
    # The run folder itself given as the root is one version.
    assert [x.id for x in scan(run)] == ["my-run"]


def test_samples_are_all_healthy() -> None:
    versions = scan(SAMPLES)
    assert len(versions) >= 3
    assert all(v.problems == () for v in versions), [v.problems for v in versions]


@pytest.mark.parametrize(
    ("damage", "file", "reason"),
    [
        (lambda r: (r / "metadata_20260102_100000.json").write_text('{"version_id": '),
         "metadata_20260102_100000.json", "invalid JSON"),
        (lambda r: (r / "metadata_20260102_100000.json").write_bytes(b"\xff\xfe{}"),
         "metadata_20260102_100000.json", "not UTF-8"),
        (lambda r: (r / "metadata_20260102_100000.json").write_text("[1, 2]"),
         "metadata_20260102_100000.json", "expected a JSON object"),
        (lambda r: (r / "v_20260102_100000" / "adapter_model.safetensors").unlink(),
         "v_20260102_100000/adapter_model.safetensors", "missing"),
        (lambda r: (r / "v_20260102_100000" / "adapter_model.safetensors").write_bytes(
            (2**62).to_bytes(8, "little") + b"{}"),
         "v_20260102_100000/adapter_model.safetensors", "exceeds"),
        (lambda r: (r / "v_20260102_100000" / "adapter_model.safetensors").write_bytes(b"\x01"),
         "v_20260102_100000/adapter_model.safetensors", "truncated"),
        (lambda r: _replace_with_dir(r / "v_20260102_100000" / "adapter_model.safetensors"),
         "v_20260102_100000/adapter_model.safetensors", "directory"),
        (lambda r: _set_config_rank(r, 16), "v_20260102_100000/adapter_config.json",
         "r=16 but the metadata says r=8"),
        (lambda r: shutil.rmtree(r / "v_20260102_100000"), "v_20260102_100000/",
         "version folder missing"),
    ],
)  # fmt: skip
def test_damage_is_reported_with_file_and_reason(
    root: Path, damage, file: str, reason: str
) -> None:
    damage(root)
    versions = by_id(root)
    bad = versions["20260102_100000"]
    assert bad.status is Status.DAMAGED
    assert any(p.file == file and reason in p.reason for p in bad.problems), bad.problems
    assert versions["20260101_100000"].problems == ()  # the rest are read normally


def _replace_with_dir(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _set_config_rank(root: Path, r: int) -> None:
    path = root / "v_20260102_100000" / "adapter_config.json"
    config = json.loads(path.read_text())
    config["r"] = r
    path.write_text(json.dumps(config))


def test_tensor_rank_disagreeing_with_config_is_damage(root: Path) -> None:
    meta = root / "metadata_20260102_100000.json"
    data = json.loads(meta.read_text())
    data["lora_config"]["r"] = 16
    meta.write_text(json.dumps(data))
    _set_config_rank(root, 16)
    bad = by_id(root)["20260102_100000"]
    assert [p.reason for p in bad.problems] == [
        "tensors have rank 8 but adapter_config.json says r=16"
    ]


def test_stuck_running_version_is_interrupted(root: Path) -> None:
    meta = root / "metadata_20260102_100000.json"
    data = json.loads(meta.read_text())
    data.update(status="running", run={"pid": 2**22 + 12345, "host": os.uname().nodename,
                                       "heartbeat_at": "2026-01-02T10:00:00"})  # fmt: skip
    meta.write_text(json.dumps(data))
    v = by_id(root)["20260102_100000"]
    assert v.status is Status.INTERRUPTED
    assert "is gone" in v.problems[0].reason


def test_live_running_version_stays_running(root: Path) -> None:
    from datetime import datetime

    meta = root / "metadata_20260102_100000.json"
    data = json.loads(meta.read_text())
    data.update(status="running", run={"pid": os.getpid(), "host": os.uname().nodename,
                                       "heartbeat_at": datetime.now().isoformat()})  # fmt: skip
    meta.write_text(json.dumps(data))
    (root / "v_20260102_100000" / "adapter_model.safetensors").unlink()  # not written yet
    v = by_id(root)["20260102_100000"]
    assert v.status is Status.RUNNING and v.problems == ()


def test_symlink_loop_unreadable_file_and_dangling_metadata(root: Path) -> None:
    os.symlink(root / "loop", root / "loop")
    os.symlink(root / "nowhere", root / "metadata_20990101_000000.json")
    versions = by_id(root)
    assert versions["20990101_000000"].status is Status.DAMAGED
    assert versions["20260101_100000"].problems == ()


def test_versions_are_read_newest_id_first(tmp_path: Path) -> None:
    """`iter_versions` reads newest ids first (tutorial ids with or without `v_`), so a
    screen can show the top of a newest-first list before a large folder is read."""
    from ftui.store import iter_versions

    write_version(tmp_path, "v_20260103_000000", seed=1)
    write_version(tmp_path, "v_20260101_000000", seed=2)
    write_version(tmp_path, "20260102_000000", seed=3)  # the tutorial's id has no v_
    assert [v.id for v in iter_versions(tmp_path)] == [
        "v_20260103_000000",
        "20260102_000000",
        "v_20260101_000000",
    ]


def test_unusable_root_raises_root_error(tmp_path: Path) -> None:
    with pytest.raises(RootError, match="no such folder"):
        scan(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RootError, match="not a folder"):
        scan(tmp_path / "file")


def test_large_folder_of_unrelated_entries(tmp_path: Path) -> None:
    for i in range(20_000):
        (tmp_path / f"f{i}").touch()
    write_version(tmp_path, "v_20260101_000000", layers=1, history_entries=4)
    assert [v.id for v in scan(tmp_path)] == ["v_20260101_000000"]


def test_a_fifo_named_like_our_files_does_not_hang_the_scan(root: Path) -> None:
    weights = root / "v_20260102_100000" / "adapter_model.safetensors"
    weights.unlink()
    os.mkfifo(weights)
    meta = root / "metadata_20260102_100000.json"
    meta.unlink()
    os.mkfifo(meta)
    bad = by_id(root)["20260102_100000"]
    assert {str(p) for p in bad.problems} == {
        "metadata_20260102_100000.json: not a regular file",
        "v_20260102_100000/adapter_model.safetensors: not a regular file",
    }


def test_tutorial_naming_pairs_metadata_with_its_v_folder(root: Path) -> None:
    """`metadata_<stamp>.json` describes `v_<stamp>/`: one version, with its metadata."""
    (only,) = [v for v in scan(root) if v.id == "20260102_100000"]
    assert only.path == root / "v_20260102_100000"
    assert only.metadata_path == root / "metadata_20260102_100000.json"
    assert only.num_samples == 200 and only.num_epochs == 3 and only.problems == ()
    assert len(scan(root)) == 2  # the folders are never listed again as Trainer folders


def test_older_ftui_naming_is_still_read_and_never_listed_twice(tmp_path: Path) -> None:
    """`metadata_v_<stamp>.json` + `v_<stamp>/` (what ftui wrote before) beside the
    tutorial's naming; a folder named exactly like the id also pairs."""
    write_version(tmp_path, "v_20260101_000000", layers=1, history_entries=4, seed=1)
    write_version(tmp_path, "20260102_000000", layers=1, history_entries=4, seed=2)
    plain = write_version(tmp_path, "20260103_000000", layers=1, history_entries=4, seed=3)
    plain.rename(tmp_path / "20260103_000000")
    versions = {v.id: v for v in scan(tmp_path)}
    assert sorted(versions) == ["20260102_000000", "20260103_000000", "v_20260101_000000"]
    assert versions["v_20260101_000000"].path.name == "v_20260101_000000"
    assert versions["20260103_000000"].path.name == "20260103_000000"
    assert all(v.problems == () and v.num_samples == 200 for v in versions.values())


def test_two_metadata_files_for_one_folder_give_one_version(root: Path) -> None:
    """`metadata_<stamp>.json` wins `v_<stamp>/`; the older file is named as a problem."""
    legacy = root / "metadata_v_20260102_100000.json"
    legacy.write_text((root / "metadata_20260102_100000.json").read_text())
    versions = scan(root)
    assert [v.id for v in versions] == ["20260102_100000", "20260101_100000"]
    (problem,) = versions[0].problems
    assert problem.file == legacy.name and "metadata_20260102_100000.json" in problem.reason


def test_a_linked_v_folder_in_the_tutorial_naming_is_not_followed(root: Path) -> None:
    """`v_<id>` as a symbolic link (here to the other version): named, never read."""
    folder = root / "v_20260102_100000"
    shutil.rmtree(folder)
    folder.symlink_to(root / "v_20260101_100000")
    bad = by_id(root)["20260102_100000"]
    assert bad.status is Status.DAMAGED and bad.adapter is None
    assert [p.file for p in bad.problems] == ["v_20260102_100000/"]
    assert "symbolic link" in bad.problems[0].reason


STAMPS = ["20260101_000000", "20260102_000000", "20260103_000000"]


@given(
    ids=st.sets(st.sampled_from(STAMPS + ["v_" + s for s in STAMPS])),
    folders=st.sets(st.sampled_from(STAMPS + ["v_" + s for s in STAMPS])),
)
def test_pairing_one_version_at_a_time_agrees_with_pairing_all(
    ids: set[str], folders: set[str]
) -> None:
    """`pair_one` (what the scan does as it reads each version) gives the same folder
    and duplicates as `pair_metadata` over all of them."""
    from ftui.store.scanner import pair_metadata, pair_one

    pairs, duplicates = pair_metadata(sorted(ids), folders)
    for version_id in ids:
        folder, dupes = pair_one(version_id, ids, folders)
        assert folder == pairs.get(version_id)
        assert dupes == duplicates.get(version_id, ())
