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
from ftui.store.naming import folder_name, metadata_file, metadata_name, version_folder
from ftui.train.engine import run_training
from ftui.train.events import Event, Metrics, Progress, Started, parse_event_lines
from ftui.train.launch import launcher_command, run_launched, under_launcher
from ftui.train.spec import RunSpec, SpecError

from .conftest import TrainedRun

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
    assert [p.name for p in root.glob("metadata_*.json")] == [metadata_name(version_id)]
    folders = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    assert folders == [folder_name(version_id)]  # (.ftui/ holds the device queue)
    meta = json.loads(metadata_file(root, version_id).read_text())
    assert meta["status"] == "completed" and meta["error"] is None
    assert (meta["spec"]["nproc_per_node"], meta["spec"]["world_size"]) == (2, 2)
    assert meta["spec"]["global_batch"] == 16
    assert [e["checkpoint"] for e in meta["epochs"]] == ["checkpoint-3"]  # 48 / (8 x 2 ranks)
    events = _events(version_folder(root, version_id))
    assert sum(isinstance(e, Started) for e in events) == 1
    metrics = [e for e in events if isinstance(e, Metrics)]
    assert metrics and metrics[-1].step == 3 and metrics[-1].samples_per_s
    assert "x 2 processes (global batch 16)" in proc.stderr
    assert "step 3/3" in proc.stderr  # rank 0's events reached the terminal printer
    assert check_root(root).exit_code == 0
    # retraining it asks for the same launch again
    from ftui.train.retrain import spec_for_retrain

    assert spec_for_retrain(root, version_id).nproc_per_node == 2


def long_two_process_spec(root: Path, train: Path) -> RunSpec:
    """A run on 2 processes long enough (40 epochs) to be stopped or killed part-way."""
    return RunSpec.defaults(root).with_overrides(
        {
            "data": str(train),
            "eval_data": "none",
            "epochs": "40",
            "max_length": "64",
            "nproc_per_node": "2",
        }  # fmt: skip
    )


def test_stopping_a_launched_run_stops_every_rank_after_the_same_step(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    train, _ = small_data
    root = tmp_path / "versions"
    spec = long_two_process_spec(root, train)
    stop = threading.Event()
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Progress) and event.step >= 2:
            stop.set()

    result = run_launched(spec, on_event, stop)
    assert result.status == "cancelled", (result.error, seen[-5:])
    assert result.version_id is not None
    meta = json.loads(metadata_file(root, result.version_id).read_text())
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
    assert result.version_id is not None
    meta = json.loads(metadata_file(root, result.version_id).read_text())
    assert meta["status"] == "completed"
    assert meta["spec"]["accelerate_config"] == str(config)
    assert any("accelerate.commands.launch" in getattr(e, "text", "") for e in seen)
    assert os.environ.get("FTUI_LAUNCHED") is None  # only the children are marked


def test_rank_0_killed_leaves_an_interrupted_version(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """kill -9 of rank 0: torchrun ends the others, the parent reports a failure, and the
    version (metadata still `running`, its pid dead) reads as interrupted, as after a
    kill -9 of a single-process run."""
    import signal

    from ftui.store import Status, scan

    train, _ = small_data
    root = tmp_path / "versions"
    spec = long_two_process_spec(root, train)
    killed: list[int] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Progress) and event.step >= 2 and not killed:
            version_id = next(e.version_id for e in seen if isinstance(e, Started))
            pid = json.loads(metadata_file(root, version_id).read_text())["run"]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        seen.append(event)

    seen: list[Event] = []
    result = run_launched(spec, on_event)
    assert killed and result.status == "failed" and result.error, result
    assert result.error == "rank 0 ended with exit code -9 (SIGKILL)"
    assert result.version_id is not None
    [version] = scan(root)
    assert version.status is Status.INTERRUPTED


def test_retrain_takes_the_launch_flags(trained: TrainedRun) -> None:
    import argparse

    from ftui.train import commands
    from ftui.train.retrain import spec_for_retrain

    parser = argparse.ArgumentParser()
    commands.add_retrain_arguments(parser)
    args = parser.parse_args([trained.result.version_id, "--nproc_per_node", "4", "--set", "r=8"])
    overrides = commands._flag_overrides(args)
    assert overrides == {"nproc_per_node": "4"}
    spec = spec_for_retrain(trained.root, trained.result.version_id, overrides=overrides)
    assert (spec.nproc_per_node, spec.world_size, spec.needs_launcher) == (4, 4, True)


def test_a_detached_two_process_run_cancels_resumes_and_completes_as_one_version(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """`ftui train --nproc-per-node 2 --detach`: torchrun under the detached child, one
    version; `ftui cancel` stops every rank after the same step (status cancelled, no
    process left); `ftui resume --detach` continues it on 2 processes from its last
    checkpoint (every rank verifies the digests) to one healthy completed version."""
    from ftui.store.liveness import Liveness, check_process, pid_alive

    from .runs_helpers import ftui, kill_leftovers, metadata, train_args, wait_until

    root = tmp_path / "versions"
    epochs = 20  # x 3 steps (48 examples / (8 x 2 ranks))
    try:
        args = train_args(small_data, "--root", str(root), "--epochs", str(epochs))
        done = ftui(*args, "--nproc-per-node", "2", "--detach", timeout=60)
        assert done.returncode == 0, done.stderr
        vid = done.stdout.split()[-1]
        launcher = json.loads(metadata_file(root, vid).read_text())["run"]["pid"]
        assert wait_until(lambda: metadata(root, vid).get("epochs"), 240), metadata(root, vid)
        record = metadata(root, vid)
        assert record["status"] == "running" and record["run"]["launch"] == "detached"
        assert record["run"]["pid"] != launcher  # rank 0 took the version over
        assert list((root / ".ftui").glob("launch-*/spec.json"))  # the launch's own folder

        done = ftui("cancel", vid, "--root", str(root), timeout=120)
        assert done.returncode == 0, done.stderr
        cancelled = metadata(root, vid)
        assert cancelled["status"] == "cancelled", cancelled.get("error")
        assert wait_until(lambda: not pid_alive(launcher), 60)  # torchrun and the child ended
        assert check_process(cancelled["run"]) is not Liveness.ALIVE
        steps = [e["step"] for e in cancelled["epochs"]]
        assert steps and steps[-1] < epochs * 3  # stopped early

        done = ftui("resume", vid, "--root", str(root), "--detach", timeout=60)
        assert done.returncode == 0, done.stderr
        assert wait_until(lambda: metadata(root, vid)["status"] == "completed", 300), (
            metadata(root, vid).get("error"),
            (version_folder(root, vid) / "train.log").read_text()[-3000:],
        )
        final = metadata(root, vid)
        assert [e["step"] for e in final["epochs"]][-1] == epochs * 3
        assert final["spec"]["world_size"] == 2 and len(final["run"]["resumes"]) == 1
        assert [p.name for p in root.glob("metadata_*.json")] == [metadata_name(vid)]
        assert check_root(root).exit_code == 0
        assert wait_until(lambda: not list((root / ".ftui").glob("launch-*")), 30)
    finally:
        kill_leftovers(root)


def test_a_launch_folder_left_by_a_dead_parent_is_removed(tmp_path: Path) -> None:
    """The spec and stop files live in `<root>/.ftui/launch-<parent pid>-*/`; the next
    launch removes the folders of parents that are gone and keeps those of live ones."""
    from ftui.train.launch import launch_folder

    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()  # a pid that is surely gone (not reused this quickly)
    base = tmp_path / ".ftui"
    dead = base / f"launch-{process.pid}-abc"
    live = base / f"launch-{os.getpid()}-def"
    other = base / "launch-notapid"
    for folder in (dead, live, other):
        folder.mkdir(parents=True)
        (folder / "spec.json").write_text("{}")
    (dead / "stop").write_text("")
    fresh = launch_folder(tmp_path)
    assert fresh.parent == base and fresh.name.startswith(f"launch-{os.getpid()}-")
    assert not dead.exists() and live.exists() and other.exists()
