"""Runs past one process: the launcher command lines, the spec's launch settings, and real
2-process CPU runs (gloo) through `ftui train --nproc-per-node 2` and `run_launched`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ftui.store.check import check_root
from ftui.store.naming import folder_name
from ftui.train.engine import run_training
from ftui.train.events import Event, Metrics, Progress, Started, parse_event_lines
from ftui.train.launch import launcher_command, run_launched, under_launcher
from ftui.train.spec import RunSpec, SpecError

ACCELERATE_CPU = """\
compute_environment: LOCAL_MACHINE
distributed_type: 'NO'
num_processes: 1
num_machines: 1
machine_rank: 0
mixed_precision: 'no'
use_cpu: true
"""


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two processes on a small machine


def test_torchrun_command_single_node_uses_a_free_port() -> None:
    spec = RunSpec(nproc_per_node=4)
    assert launcher_command(spec, "/tmp/s.json") == [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "4", "--standalone",
        "-m", "ftui.train.launch", "/tmp/s.json",
    ]  # fmt: skip


def test_torchrun_command_multi_node_meets_at_the_endpoint() -> None:
    spec = RunSpec(nproc_per_node=8, nnodes=2, rdzv_endpoint="node0:29400")
    assert launcher_command(spec, "s.json")[3:-3] == [
        "--nproc-per-node", "8", "--nnodes", "2", "--rdzv-backend", "c10d",
        "--rdzv-endpoint", "node0:29400",
    ]  # fmt: skip


def test_accelerate_command_passes_the_config_and_the_counts(tmp_path: Path) -> None:
    config = tmp_path / "fsdp.yaml"
    one = RunSpec(accelerate_config=str(config))
    assert launcher_command(one, "s.json") == [
        sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
        "-m", "ftui.train.launch", "s.json",
    ]  # fmt: skip
    many = RunSpec(accelerate_config=str(config), nproc_per_node=4, nnodes=2,
                   rdzv_endpoint="10.0.0.1:29500")  # fmt: skip
    assert launcher_command(many, "s.json")[5:-3] == [
        "--num_processes", "8", "--num_machines", "2",
        "--main_process_ip", "10.0.0.1", "--main_process_port", "29500",
    ]  # fmt: skip


def test_launch_settings_are_checked(tmp_path: Path) -> None:
    base = RunSpec.defaults(tmp_path)
    cases = {
        "nnodes=2 needs --rdzv-endpoint": {"nnodes": "2"},
        "expected HOST:PORT": {"rdzv_endpoint": "node0"},
        "nproc_per_node must be a positive integer": {"nproc": "0"},
        "no such file": {"accelerate_config": str(tmp_path / "missing.yaml")},
        "beyond any real run": {"nproc_per_node": "5000"},
    }
    for message, overrides in cases.items():
        with pytest.raises(SpecError, match=message):
            base.with_overrides(overrides).validate(check_data=False)
    spec = base.with_overrides({"nproc_per_node": "4", "grad_accum": "2"})
    assert (spec.world_size, spec.global_batch, spec.needs_launcher) == (4, 64, True)
    assert not base.needs_launcher
    fields = [name for name, _label, _kind in RunSpec.editable_fields()]
    assert fields[-4:] == ["nproc_per_node", "nnodes", "rdzv_endpoint", "accelerate_config"]


def test_the_engine_refuses_several_processes_without_a_launcher(tmp_path: Path) -> None:
    assert not under_launcher()
    result = run_training(RunSpec.defaults(tmp_path / "v").with_overrides({"nproc": "2"}))
    assert result.status == "failed" and "need a launcher" in (result.error or "")
    assert not (tmp_path / "v").exists() or not any((tmp_path / "v").iterdir())


def _events(folder: Path) -> list[Event]:
    return parse_event_lines((folder / "events.jsonl").read_bytes())[0]


def test_two_processes_through_ftui_train_give_one_healthy_version(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    train, evals = small_data
    root = tmp_path / "versions"
    proc = subprocess.run(
        [sys.executable, "-m", "ftui.cli", "train", "--nproc-per-node", "2", "--data", str(train),
         "--eval-data", str(evals), "--epochs", "1", "--max-length", "64", "--root", str(root)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ids = proc.stdout.split()
    assert len(ids) == 1  # the parent prints the id once
    version_id = ids[0]
    assert [p.name for p in root.glob("metadata_*.json")] == [f"metadata_{version_id}.json"]
    assert [p.name for p in root.iterdir() if p.is_dir()] == [folder_name(version_id)]
    meta = json.loads((root / f"metadata_{version_id}.json").read_text())
    assert meta["status"] == "completed" and meta["error"] is None
    assert (meta["spec"]["nproc_per_node"], meta["spec"]["world_size"]) == (2, 2)
    assert meta["spec"]["global_batch"] == 16
    assert [e["checkpoint"] for e in meta["epochs"]] == ["checkpoint-3"]  # 48 / (8 x 2 ranks)
    events = _events(root / folder_name(version_id))
    assert sum(isinstance(e, Started) for e in events) == 1
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert metrics and metrics[-1].step == 3 and metrics[-1].samples_per_s
    assert "x 2 processes (global batch 16)" in proc.stderr
    assert "step 3/3" in proc.stderr  # rank 0's events reached the terminal printer
    assert check_root(root).exit_code == 0
    # retraining it asks for the same launch again
    from ftui.train.retrain import spec_for_retrain

    assert spec_for_retrain(root, version_id).nproc_per_node == 2


def test_stopping_a_launched_run_stops_every_rank_after_the_same_step(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = small_data
    root = tmp_path / "versions"
    spec = RunSpec.defaults(root).with_overrides(
        {
            "data": str(train),
            "eval_data": "none",
            "epochs": "40",
            "max_length": "64",
            "nproc_per_node": "2",
        }  # fmt: skip
    )
    stop = threading.Event()
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Progress) and event.step >= 2:
            stop.set()

    result = run_launched(spec, on_event, stop)
    assert result.status == "cancelled", (result.error, seen[-5:])
    meta = json.loads((root / f"metadata_{result.version_id}.json").read_text())
    assert meta["status"] == "cancelled"
    last = max(e.step for e in seen if isinstance(e, Progress))
    assert last < 120  # 40 epochs x 3 steps: it stopped early, and both ranks returned


def test_accelerate_launch_runs_with_a_config_file(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """Where accelerate is installed: its launcher with a (CPU) config file, for real."""
    pytest.importorskip("accelerate")
    train, _ = small_data
    config = tmp_path / "accelerate.yaml"
    config.write_text(ACCELERATE_CPU)
    root = tmp_path / "versions"
    spec = RunSpec.defaults(root).with_overrides(
        {
            "data": str(train),
            "eval_data": "none",
            "epochs": "1",
            "max_length": "64",
            "accelerate_config": str(config),
        }  # fmt: skip
    )
    seen: list[Event] = []
    result = run_launched(spec, seen.append)
    assert result.status == "completed", (result.error, seen[-5:])
    meta = json.loads((root / f"metadata_{result.version_id}.json").read_text())
    assert meta["status"] == "completed"
    assert meta["spec"]["accelerate_config"] == str(config)
    assert any("accelerate.commands.launch" in getattr(e, "text", "") for e in seen)
    assert os.environ.get("FTUI_LAUNCHED") is None  # only the children are marked
