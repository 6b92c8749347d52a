"""`ftui train` / `ftui retrain` handlers: exit codes, output, Ctrl+C."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftui.store import Status
from ftui.train import commands
from ftui.train.engine import RunResult
from ftui.train.spec import RunSpec, SpecError

from .conftest import TrainedRun


def parse(kind: str, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    if kind == "train":
        commands.add_train_arguments(parser)
    else:
        commands.add_retrain_arguments(parser)
    return parser.parse_args(argv)


def test_flags_and_set_pairs_build_the_spec(tmp_path: Path) -> None:
    args = parse("train", ["--r", "16", "--lr", "1e-4", "--epochs", "3", "--root", str(tmp_path),
                           "--set", "alpha=32", "dropout=0.1", "--set", "seed=7"])  # fmt: skip
    spec = commands.build_train_spec(args)
    assert (spec.r, spec.learning_rate, spec.epochs, spec.alpha) == (16, 1e-4, 3.0, 32.0)
    assert (spec.dropout, spec.seed, spec.root) == (0.1, 7, str(tmp_path))
    assert commands.build_train_spec(parse("train", [])).root == "model_versions"


def test_train_command_trains_and_prints_the_version_id(
    small_data: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    train, evals = small_data
    root = tmp_path / "versions"
    code = commands.run_train_command(parse("train", [
        "--data", str(train), "--eval-data", str(evals), "--r", "4", "--epochs", "1",
        "--max-length", "64", "--root", str(root)]))  # fmt: skip
    out, err = capsys.readouterr()
    assert code == commands.EXIT_COMPLETED
    version_id = out.strip().splitlines()[-1]
    assert (root / f"v_{version_id}" / "adapter_model.safetensors").is_file()
    assert "step 6/6" in err and "epoch 1: saved checkpoint-6" in err


@pytest.mark.parametrize(
    "argv",
    [["--r", "0"], ["--set", "rnak=3"], ["--set", "novalue"], ["--base-model", "/no/such/dir"],
     ["--lr", "fast"]],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert commands.run_train_command(parse("train", [*argv, "--root", str(tmp_path)])) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err


def test_retrain_command_child_has_rank_16(
    trained: TrainedRun, capsys: pytest.CaptureFixture[str]
) -> None:
    from ftui.store.safetensors_header import read_adapter

    args = parse("retrain", [trained.result.version_id, "--root", str(trained.root),
                             "--set", "r=16", "epochs=1", "-q"])  # fmt: skip
    assert commands.run_retrain_command(args) == 0
    child = capsys.readouterr().out.strip().splitlines()[-1]
    meta = json.loads((trained.root / f"metadata_{child}.json").read_text())
    assert meta["parent"]["version_id"] == trained.result.version_id
    assert read_adapter(trained.root / f"v_{child}" / "adapter_model.safetensors").ranks == {16}


def test_retrain_errors_exit_2(trained: TrainedRun, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(trained.root)
    assert commands.run_retrain_command(parse("retrain", ["v_nope", "--root", root])) == 2
    assert "no version 'v_nope'" in capsys.readouterr().err
    args = parse("retrain", [trained.result.version_id, "--root", root, "--from-checkpoint", "999"])
    assert commands.run_retrain_command(args) == 2
    assert (
        "has no checkpoint-999 (available: checkpoint-6, checkpoint-12" in capsys.readouterr().err
    )
    args = parse(
        "retrain", [trained.result.version_id, "--root", root, "--continue", "--set", "r=16"]
    )
    assert commands.run_retrain_command(args) == 2


def test_retrain_names_a_version_with_or_without_v_and_a_checkpoint(trained: TrainedRun) -> None:
    """`<id>`, `v_<id>`, `<id>:6`, `v_<id>:checkpoint-6`: one resolver for every name."""
    from ftui.train.retrain import spec_for_retrain

    vid = trained.result.version_id
    for name in (vid, f"v_{vid}"):
        spec = spec_for_retrain(trained.root, name)
        assert (spec.parent, spec.parent_checkpoint) == (vid, None)
    for name in (f"{vid}:6", f"v_{vid}:checkpoint-6"):
        spec = spec_for_retrain(trained.root, name)
        assert (spec.parent, spec.parent_checkpoint) == (vid, "checkpoint-6")
    with pytest.raises(SpecError, match="names checkpoint-6 but --from-checkpoint 12"):
        spec_for_retrain(trained.root, f"{vid}:6", checkpoint="12")


@pytest.mark.parametrize(
    ("status", "code"), [(Status.COMPLETED, 0), (Status.FAILED, 1), (Status.CANCELLED, 130)]
)
def test_exit_codes_follow_the_result(tmp_path: Path, status: Status, code: int) -> None:
    def fake_run(spec: RunSpec, on_event: object = None, stop: object = None) -> RunResult:
        error = "boom" if status is Status.FAILED else None
        return RunResult("v_1", tmp_path / "v_1", status, error)

    assert commands.run_spec(RunSpec.defaults(tmp_path), run=fake_run) == code


def test_ctrl_c_cancels_cooperatively(small_data: tuple[Path, Path], tmp_path: Path) -> None:
    train, evals = small_data
    root = tmp_path / "versions"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ftui.train.commands", "train", "--data", str(train),
         "--eval-data", str(evals), "--epochs", "50", "--max-length", "64", "--root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "epoch 1: saved" in line or time.monotonic() > deadline:
            break
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    version_id = out.strip().splitlines()[-1]
    meta = json.loads((root / f"metadata_{version_id}.json").read_text())
    assert meta["status"] == "cancelled"
    assert (root / f"v_{version_id}" / "checkpoint-6").is_dir()


def test_under_torchrun_only_the_main_process_writes(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """Two CPU processes (gloo): one version, one metadata file, one events log, one id."""
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun is not installed beside this interpreter")
    train, evals = small_data
    root = tmp_path / "versions"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node", "2", "-m", "ftui.train.commands", "train",
         "--data", str(train), "--eval-data", str(evals), "--epochs", "1", "--max-length", "64",
         "--root", str(root), "-q"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    ids = proc.stdout.split()
    assert len(ids) == 1
    assert [p.name for p in root.glob("metadata_*.json")] == [f"metadata_{ids[0]}.json"]
    meta = json.loads((root / f"metadata_{ids[0]}.json").read_text())
    assert meta["status"] == "completed"
    assert [e["checkpoint"] for e in meta["epochs"]] == ["checkpoint-3"]  # 48 / (8 x 2 ranks)
    events = (root / f"v_{ids[0]}" / "events.jsonl").read_text().splitlines()
    assert sum('"kind": "started"' in line for line in events) == 1


def test_set_before_the_version_does_not_swallow_it(tmp_path: Path) -> None:
    """`ftui retrain --set r=16 VERSION`: --set takes every word after it; the one word
    without `=` is the version."""
    args = parse("retrain", ["--set", "r=16", "epochs=2", "20260301_090000"])
    assert commands.take_version(args) == "20260301_090000"
    assert args.settings == ["r=16", "epochs=2"]
    with pytest.raises(SpecError, match="which version"):
        commands.take_version(parse("retrain", ["--set", "r=16"]))


def test_refused_before_anything_ran_prints_once_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--device cuda` on a CPU box: one `error:` line, exit 2 (nothing was trained)."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this box has a CUDA GPU")
    args = parse("train", ["--device", "cuda", "--root", str(tmp_path), "--set", "epochs=1"])
    assert commands.run_train_command(args) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == ["error: device cuda was asked for but no CUDA GPU is available"], err
    assert not list(tmp_path.glob("v_*"))  # no version was claimed
