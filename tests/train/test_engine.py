"""run_training end to end on the built-in tiny model (a second or two per run)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ftui.store.check import check_root
from ftui.store.jsonio import read_json_object
from ftui.store.safetensors_header import read_adapter
from ftui.store.writer import metadata_path
from ftui.train.engine import run_training
from ftui.train.events import (
    EVENTS_FILE,
    Cancelled,
    EpochSaved,
    Event,
    Failed,
    Finished,
    LossPoint,
    Progress,
    Started,
    parse_event_lines,
)
from ftui.train.paths import resolve_ref
from ftui.train.retrain import spec_for_retrain
from ftui.train.spec import RunSpec

from .conftest import TrainedRun

FORMAT_KEYS = {
    "schema_version", "version_id", "timestamp", "model_name", "lora_config", "num_samples",
    "num_epochs", "status", "parent", "data", "training_args", "spec", "metrics", "epochs",
    "tags", "notes", "library_versions", "run", "error",
}  # fmt: skip


def metadata(root: Path, version_id: str) -> dict:
    return read_json_object(metadata_path(root, version_id))


def logged_events(folder: Path) -> list[Event]:
    events, _ = parse_event_lines((folder / EVENTS_FILE).read_bytes())
    return events


def test_completed_version_has_checkpoints_history_and_metadata(trained: TrainedRun) -> None:
    result, root = trained.result, trained.root
    folder = root / f"v_{result.version_id}"  # the tutorial's naming: v_<id>/, metadata_<id>.json
    assert result.path == folder and result.error is None
    assert not result.version_id.startswith("v_")
    assert metadata_path(root, result.version_id).is_file()
    for name in ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json"):
        assert (folder / name).is_file(), name
    assert not list(root.rglob("training_args.json"))  # settings live in the metadata
    checkpoints = sorted(p.name for p in folder.glob("checkpoint-*"))
    assert checkpoints == ["checkpoint-12", "checkpoint-6"]  # one per epoch, named by step
    for name in checkpoints:
        assert (folder / name / "adapter_model.safetensors").is_file()

    meta = metadata(root, result.version_id)
    assert set(meta) >= FORMAT_KEYS
    assert meta["status"] == "completed" and meta["error"] is None and meta["parent"] is None
    assert meta["model_name"] == "ftui:tiny-gpt2" and meta["num_samples"] == 48
    assert meta["lora_config"] == {"r": 4, "lora_alpha": 8.0, "lora_dropout": 0.05,
                                   "target_modules": ["c_attn"], "use_rslora": False,
                                   "bias": "none"}  # fmt: skip
    assert (
        meta["data"]["fingerprint"].startswith("sha256:") and meta["data"]["num_eval_samples"] == 8
    )
    assert [e["checkpoint"] for e in meta["epochs"]] == ["checkpoint-6", "checkpoint-12"]
    assert all(e["train_loss"] > 0 and e["eval_loss"] > 0 for e in meta["epochs"])
    metrics = meta["metrics"]
    assert metrics["final_eval_loss"] == meta["epochs"][-1]["eval_loss"]
    assert metrics["best_epoch"] in (1, 2) and metrics["train_runtime"] > 0
    assert meta["training_args"]["save_strategy"] == "epoch"
    assert RunSpec.from_dict(meta["spec"]) == trained.spec.normalized()
    assert meta["run"]["finished_at"] and meta["library_versions"]["torch"]

    state = json.loads((folder / "trainer_state.json").read_text())
    assert any("loss" in row for row in state["log_history"])
    assert any("eval_loss" in row for row in state["log_history"])
    adapter_config = json.loads((folder / "adapter_config.json").read_text())
    assert adapter_config["base_model_name_or_path"] == str(resolve_ref("ftui:tiny-gpt2"))
    assert check_root(root).exit_code == 0


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_a_version_loads_back_the_way_the_tutorial_loads_one(trained: TrainedRun) -> None:
    """`AutoModelForCausalLM.from_pretrained(version_folder)`, offline, with the LoRA
    weights merged in; every checkpoint too."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    folder = trained.result.path
    for where in (folder, *sorted(folder.glob("checkpoint-*"))):
        model = AutoModelForCausalLM.from_pretrained(str(where), local_files_only=True)
        assert type(model).__name__ == "GPT2LMHeadModel"
        state = load_file(str(where / "adapter_model.safetensors"))
        (b_key,) = [k for k in state if k.endswith("h.0.attn.c_attn.lora_B.weight")]
        assert torch.count_nonzero(state[b_key]) > 0  # the adapter changed something
        assert any("lora_A" in name for name, _ in model.named_parameters())


def test_events_reach_the_callback_and_the_log_file(trained: TrainedRun) -> None:
    kinds = [type(e) for e in trained.events]
    assert kinds.count(Started) == 1 and kinds[-1] is Finished
    assert kinds.count(EpochSaved) == 2 and Progress in kinds
    assert {e.split for e in trained.events if isinstance(e, LossPoint)} == {"train", "eval"}
    progress = [e for e in trained.events if isinstance(e, Progress)]
    assert progress[-1].step == progress[-1].total == 12
    on_disk = logged_events(trained.result.path)
    assert [type(e) for e in on_disk] == kinds  # the file tells the same story


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_adapter_loads_back_with_peft(trained: TrainedRun) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from ftui.train.paths import resolve_ref

    base = AutoModelForCausalLM.from_pretrained(resolve_ref("ftui:tiny-gpt2"))
    model = PeftModel.from_pretrained(base, str(trained.result.path))
    with torch.no_grad():
        out = model(input_ids=torch.tensor([[5, 6, 7]]))
    assert out.logits.shape == (1, 3, 1000)
    lora = [n for n, _ in model.named_parameters() if "lora_A" in n]
    assert lora and all(".c_attn." in n for n in lora)


def test_local_base_path_is_recorded_and_auto_model_loads(
    make_spec: Callable[..., RunSpec], local_base_model: Path
) -> None:
    from transformers import AutoModelForCausalLM

    result = run_training(make_spec(base_model=str(local_base_model)))
    assert result.status == "completed", result.error
    config = json.loads((result.path / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(local_base_model)
    model = AutoModelForCausalLM.from_pretrained(str(result.path))
    assert any("lora" in name for name, _ in model.named_modules())


def test_retrain_with_rank_16_records_parent(trained: TrainedRun) -> None:
    parent = trained.result.version_id
    spec = spec_for_retrain(
        trained.root, parent, checkpoint="6", overrides={"r": "16", "epochs": "1"}
    )
    child = run_training(spec)
    assert child.status == "completed", child.error
    meta = metadata(trained.root, child.version_id)
    assert meta["parent"] == {"version_id": parent, "checkpoint": "checkpoint-6", "mode": "fresh"}
    adapter = read_adapter(child.path / "adapter_model.safetensors")
    assert adapter.ranks == frozenset({16})
    assert metadata(trained.root, parent)["status"] == "completed"  # parent untouched


def test_continue_starts_from_the_parents_weights(trained: TrainedRun) -> None:
    from safetensors.torch import load_file

    parent = trained.result.version_id
    spec = spec_for_retrain(trained.root, parent, checkpoint="checkpoint-12",
                            overrides={"epochs": "1", "lr": "1e-9"},
                            continue_training=True)  # fmt: skip
    child = run_training(spec)
    assert child.status == "completed", child.error
    assert metadata(trained.root, child.version_id)["parent"]["mode"] == "continue"
    before = load_file(str(trained.result.path / "checkpoint-12" / "adapter_model.safetensors"))
    after = load_file(str(child.path / "adapter_model.safetensors"))
    assert before.keys() == after.keys()
    assert all((before[k] - after[k]).abs().max() < 1e-4 for k in before)  # lr ~0: unchanged


def test_cancel_mid_training_leaves_a_consistent_cancelled_version(
    make_spec: Callable[..., RunSpec],
) -> None:
    stop = threading.Event()
    seen: list[Event] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Progress):
            stop.set()

    spec = make_spec(epochs=3)
    result = run_training(spec, on_event, stop)
    assert result.status == "cancelled" and result.version_id
    assert isinstance(seen[-1], Cancelled) and seen[-1].step == 1
    root = Path(spec.root)
    meta = metadata(root, result.version_id)
    assert meta["status"] == "cancelled" and meta["run"]["finished_at"]
    assert not list(result.path.glob("checkpoint-*"))  # stopped before the first epoch end
    assert (result.path / "trainer_state.json").is_file()
    assert isinstance(logged_events(result.path)[-1], Cancelled)
    report = check_root(root)
    assert report.exit_code == 0 and report.versions[0].status == "cancelled"


def test_failure_during_training_marks_the_version_failed(
    make_spec: Callable[..., RunSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(transformers.Trainer, "training_step", out_of_memory)
    seen: list[Event] = []
    spec = make_spec()
    result = run_training(spec, seen.append)
    assert result.status == "failed" and result.version_id
    assert "out of memory" in result.error and "\n" not in result.error
    meta = metadata(Path(spec.root), result.version_id)
    assert meta["status"] == "failed" and meta["error"] == result.error
    assert isinstance(seen[-1], Failed) and seen[-1].version_id == result.version_id
    assert isinstance(logged_events(result.path)[-1], Failed)


def test_corrupt_base_model_fails_before_claiming(
    make_spec: Callable[..., RunSpec], local_base_model: Path, tmp_path: Path
) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(local_base_model, broken)
    (broken / "config.json").write_text("{ not json")
    seen: list[Event] = []
    spec = make_spec(base_model=str(broken))
    result = run_training(spec, seen.append)
    assert result.status == "failed" and result.version_id is None and result.path is None
    assert "cannot load base model" in result.error and str(broken) in result.error
    assert not Path(spec.root).exists() or not any(Path(spec.root).iterdir())
    assert isinstance(seen[-1], Failed) and seen[-1].version_id is None


def test_unknown_target_module_is_named(make_spec: Callable[..., RunSpec]) -> None:
    result = run_training(make_spec(target_modules="c_attn,q_proj"))
    assert result.status == "failed" and result.version_id is None
    assert result.error.startswith("unknown target module 'q_proj' for gpt2 (layers:")


def test_invalid_spec_fails_without_a_folder(make_spec: Callable[..., RunSpec]) -> None:
    spec = make_spec(r=0)
    result = run_training(spec)
    assert (result.status, result.version_id) == ("failed", None)
    assert result.error == "r must be a positive integer, got 0"
    assert not Path(spec.root).exists()


def test_stop_before_start_claims_nothing(make_spec: Callable[..., RunSpec]) -> None:
    stop = threading.Event()
    stop.set()
    spec = make_spec()
    result = run_training(spec, stop=stop)
    assert (result.status, result.version_id) == ("cancelled", None)


def test_two_runs_started_together_in_threads_get_distinct_versions(
    make_spec: Callable[..., RunSpec],
) -> None:
    """In one process runs take turns (the HF stack has process-wide state); both finish."""
    spec = make_spec(epochs="0.5")
    results: list = [None, None]
    logs: list[list[Event]] = [[], []]

    def run(index: int) -> None:
        results[index] = run_training(spec, logs[index].append)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in results] == ["completed", "completed"], [r.error for r in results]
    assert results[0].version_id != results[1].version_id
    assert results[0].path != results[1].path


def test_two_processes_started_together_get_distinct_versions(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    import subprocess
    import sys

    train, _ = small_data
    root = tmp_path / "versions"
    argv = [sys.executable, "-m", "ftui.train.commands", "train", "--data", str(train),
            "--eval-data", "none", "--epochs", "0.5", "--max-length", "64", "--root", str(root),
            "-q"]  # fmt: skip
    processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=180)[0].strip() for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    assert outputs[0] != outputs[1]
    assert sorted(p.name for p in root.glob("metadata_*.json")) == sorted(
        f"metadata_{v}.json" for v in outputs
    )


def test_a_failing_listener_does_not_kill_the_run(make_spec: Callable[..., RunSpec]) -> None:
    def broken(event: Event) -> None:
        raise ValueError("listener bug")

    assert run_training(make_spec(epochs="0.5"), broken).status == "completed"


def test_disk_full_while_saving_marks_the_version_failed(
    make_spec: Callable[..., RunSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import transformers

    def full(self: object, output_dir: str | None = None, *args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", output_dir)

    monkeypatch.setattr(transformers.Trainer, "save_model", full)
    spec = make_spec(epochs="0.5")
    result = run_training(spec)
    assert result.status == "failed" and result.error.startswith("disk full while writing ")
    assert metadata(Path(spec.root), result.version_id)["status"] == "failed"


def test_heartbeat_refreshes_the_metadata(tmp_path: Path) -> None:
    import time

    from ftui.store.writer import create_metadata
    from ftui.train.metadata import Heartbeat

    create_metadata(tmp_path, "v_1", {"run": {"heartbeat_at": "old"}})
    beat = Heartbeat(metadata_path(tmp_path, "v_1"), interval=0.05)
    beat.start()
    deadline = time.monotonic() + 5
    while metadata(tmp_path, "v_1")["run"]["heartbeat_at"] == "old" and time.monotonic() < deadline:
        time.sleep(0.02)
    beat.stop()
    assert metadata(tmp_path, "v_1")["run"]["heartbeat_at"] != "old"


def test_same_spec_gives_the_same_adapter(make_spec: Callable[..., RunSpec]) -> None:
    from safetensors.torch import load_file

    spec = make_spec(epochs="0.5")
    first, second = run_training(spec), run_training(spec)
    a = load_file(str(first.path / "adapter_model.safetensors"))
    b = load_file(str(second.path / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_cancelled_while_the_model_loads_ends_cancelled_not_failed(tmp_path: Path) -> None:
    """A model that fails to load after the user cancelled (an offline hub id retrying,
    say) is a cancelled run: the user asked for it to stop."""
    model = tmp_path / "broken-model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "no-such-architecture"}')
    spec = RunSpec.defaults(tmp_path / "runs").with_overrides(
        {"base_model": str(model), "epochs": "1"}
    )
    stop = threading.Event()
    stop.set()
    assert run_training(spec, None, stop).status == "cancelled"
    assert run_training(spec, None, threading.Event()).status == "failed"
