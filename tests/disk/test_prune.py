"""Pruning: every rule of the plan, the preview, deletions recorded, and interruptions."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from disk_helpers import REPO, STATE_FILES, A, B, C, add_state, du_sb, folder, ftui, meta

from ftui.store import check_root, scan
from ftui.store.aliases import set_alias
from ftui.store.disk import TRASH_PREFIX
from ftui.store.prune import PruneOptions, execute, plan_prune, ranked_by_loss
from ftui.store.writer import set_tags, update_metadata


def version(root: Path, version_id: str):  # noqa: ANN201
    return next(v for v in scan(root) if v.id == version_id)


def checkpoints(root: Path, version_id: str) -> list[str]:
    return sorted(p.name for p in folder(root, version_id).glob("checkpoint-*"))


def test_keep_best_keeps_the_best_and_the_last(with_state: Path) -> None:
    v = version(with_state, A)
    best = ranked_by_loss(v.checkpoints)[0]
    assert best.eval_loss == min(c.eval_loss for c in v.checkpoints)  # type: ignore[type-var]
    plan = plan_prune([v], PruneOptions(keep_best=1))
    gone = {r.checkpoint for r in plan.removals}
    assert best.name not in gone and v.checkpoints[-1].name not in gone
    assert gone == {c.name for c in v.checkpoints} - {best.name, v.checkpoints[-1].name}


def test_best_by_train_loss_when_there_is_no_eval(with_state: Path) -> None:
    def drop_eval(record: dict) -> None:
        for entry in record["epochs"]:
            entry["eval_loss"] = None
        record["epochs"][0]["train_loss"] = 0.01  # the first epoch is now the best

    update_metadata(meta(with_state, A), drop_eval)
    plan = plan_prune([version(with_state, A)], PruneOptions(keep_best=1))
    assert {r.checkpoint for r in plan.removals} == {"checkpoint-66"}


def test_no_losses_means_nothing_deleted(with_state: Path) -> None:
    def drop_losses(record: dict) -> None:
        for entry in record["epochs"]:
            entry["eval_loss"] = entry["train_loss"] = None

    update_metadata(meta(with_state, A), drop_losses)
    plan = plan_prune([version(with_state, A)], PruneOptions(keep_best=1))
    assert plan.removals == []


def test_drop_state_keeps_the_last_checkpoints_state_unless_all(with_state: Path) -> None:
    v = version(with_state, A)
    plan = plan_prune([v], PruneOptions(drop_state=True))
    assert {r.checkpoint for r in plan.removals} == {"checkpoint-33", "checkpoint-66"}
    assert all(set(r.names) == set(STATE_FILES) for r in plan.removals)
    assert plan.freed == 2 * sum(STATE_FILES.values())
    everything = plan_prune([v], PruneOptions(drop_state=True, all_state=True))
    assert len(everything.removals) == 3


def test_final_adapter_missing_keeps_the_last_checkpoint(with_state: Path) -> None:
    (folder(with_state, A) / "adapter_model.safetensors").unlink()
    update_metadata(meta(with_state, A), {"status": "cancelled"})
    v = version(with_state, A)
    plan = plan_prune([v], PruneOptions(keep_best=1, keep_last=0))
    assert {r.checkpoint for r in plan.removals} == {"checkpoint-33", "checkpoint-66"}
    assert "stands in" in plan.versions[0].kept["checkpoint-99"]


@pytest.mark.parametrize("status", ["running", "queued"])
def test_running_and_queued_versions_are_never_touched(with_state: Path, status: str) -> None:
    record = json.loads(meta(with_state, A).read_text())
    record["status"] = status
    record["run"]["pid"] = os.getpid()  # alive, so the scan keeps it running
    record["run"]["host"] = os.uname().nodename
    meta(with_state, A).write_text(json.dumps(record))
    v = version(with_state, A)
    plan = plan_prune([v], PruneOptions(keep_best=1, drop_state=True))
    if v.status.value == status:
        assert plan.versions[0].skipped and status in plan.versions[0].skipped
        assert plan.removals == []


def test_a_run_that_started_after_the_plan_is_left_alone(with_state: Path) -> None:
    plan = plan_prune([version(with_state, A)], PruneOptions(keep_best=1))
    update_metadata(meta(with_state, A), {"status": "running"})
    result = execute(plan, with_state)
    assert result.freed == 0 and "running" in result.errors[0]
    assert len(checkpoints(with_state, A)) == 3


def test_aliased_and_pinned_versions_and_aliased_checkpoints(with_state: Path) -> None:
    set_alias(with_state, "prod", A)
    set_alias(with_state, "old", f"{B}:checkpoint-33")
    set_tags(meta(with_state, C), ["pinned"])
    plan = plan_prune(scan(with_state), PruneOptions(keep_best=1, drop_state=True))
    by_id = {p.version.id: p for p in plan.versions}
    assert "aliased (prod)" in (by_id[A].skipped or "")
    assert by_id[C].skipped == "pinned"
    assert "checkpoint-33" not in {
        r.checkpoint for r in by_id[B].removals if r.kind == "checkpoint"
    }
    assert "alias old" in by_id[B].kept["checkpoint-33"]
    named = plan_prune([version(with_state, A)], PruneOptions(keep_best=1), named_by_alias=[A])
    assert named.versions[0].skipped is None and named.removals


def test_cli_names_the_alias_to_prune_an_aliased_version(with_state: Path) -> None:
    set_alias(with_state, "prod", A)
    by_id = ftui("prune", "--root", str(with_state), A, "--keep-best", "1", "--yes")
    assert by_id.returncode == 0 and "aliased" in by_id.stdout
    assert len(checkpoints(with_state, A)) == 3
    by_alias = ftui("prune", "--root", str(with_state), "prod", "--keep-best", "1", "--yes")
    assert by_alias.returncode == 0, by_alias.stderr
    assert checkpoints(with_state, A) == ["checkpoint-99"]


def test_linked_version_is_refused_and_nothing_outside_changes(with_state: Path) -> None:
    outside = with_state.parent / "outside"
    folder(with_state, A).rename(outside)
    os.symlink(outside, folder(with_state, A))
    before = sorted(str(p) for p in outside.rglob("*"))
    proc = ftui("prune", "--root", str(with_state), A, "--keep-best", "1", "--yes")
    assert proc.returncode == 1
    assert "symbolic link" in proc.stderr and proc.stderr.startswith("error: ")
    assert sorted(str(p) for p in outside.rglob("*")) == before


def test_preview_then_yes_frees_what_it_previewed(with_state: Path) -> None:
    metas = {v.id: v.metadata_path for v in scan(with_state)}
    meta_before = sum(os.path.getsize(p) for p in metas.values())
    before = du_sb(with_state)
    args = ("prune", str(with_state), "--keep-best", "1", "--drop-optimizer-state")
    preview = ftui(*args, "--json")
    assert preview.returncode == 0, preview.stderr
    planned = json.loads(preview.stdout)["freed"]
    assert planned > 0 and du_sb(with_state) == before  # a preview changes nothing
    text = ftui(*args)
    assert "Preview only" in text.stdout and "--yes" in text.stdout
    done = ftui(*args, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["freed"] == planned
    meta_growth = sum(os.path.getsize(p) for p in metas.values()) - meta_before
    assert before - du_sb(with_state) == planned - meta_growth
    report = check_root(with_state)
    assert report.exit_code == 0, report
    record = json.loads(metas[A].read_text())  # type: ignore[arg-type]
    assert [e["what"] for e in record["pruned"]][:2] == ["checkpoint-33", "checkpoint-66"]
    assert all(e["bytes"] > 0 and e["at"] for e in record["pruned"])
    assert sum(e["bytes"] for v in metas.values()
               for e in json.loads(v.read_text()).get("pruned", [])) == planned  # type: ignore[union-attr]  # fmt: skip


def test_usage_errors(with_state: Path) -> None:
    for args in ((), ("--keep-best", "0"), ("--all",), ("--keep-last", "-1")):
        proc = ftui("prune", str(with_state), *args)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), (args, proc.stderr)
    proc = ftui("prune", "--root", str(with_state), f"{A}:33", "--keep-best", "1")
    assert proc.returncode == 2


def test_leftovers_of_an_interrupted_prune_stay_readable_and_are_removed_next(
    with_state: Path,
) -> None:
    """Killed between the rename and the removal: the version reads clean; the next
    prune removes the hidden folder (and records it)."""
    trash = folder(with_state, A) / f"{TRASH_PREFIX}checkpoint-33"
    (folder(with_state, A) / "checkpoint-33").rename(trash)
    (trash / "adapter_model.safetensors").unlink()  # half removed
    assert check_root(with_state).exit_code == 0
    plan = plan_prune([version(with_state, A)], PruneOptions(drop_state=True))
    assert plan.versions[0].leftovers > 0
    result = execute(plan, with_state)
    assert not trash.exists() and result.errors == []
    record = json.loads(meta(with_state, A).read_text())
    assert record["pruned"][0]["kind"] == "leftovers"


def _many_checkpoints(root: Path, count: int, files: int) -> None:
    """Give version A `count` checkpoints of `files` files each, with losses."""

    def add_epochs(record: dict) -> None:
        record["epochs"] = [
            {"epoch": i, "step": 100 + i, "checkpoint": f"checkpoint-{100 + i}",
             "train_loss": 5.0 - i * 0.01, "eval_loss": 5.0 - (i % 7) * 0.1}
            for i in range(count)
        ]  # fmt: skip

    source = folder(root, A) / "checkpoint-33"
    for i in range(count):
        target = folder(root, A) / f"checkpoint-{100 + i}"
        target.mkdir()
        for name in ("adapter_model.safetensors", "adapter_config.json", "trainer_state.json"):
            (target / name).write_bytes((source / name).read_bytes())
        for j in range(files):
            (target / f"rng_state_{j}.pth").write_bytes(b"r" * 100)
    update_metadata(meta(root, A), add_epochs)


def _pruned_count(meta: Path) -> int:
    try:
        return len(json.loads(meta.read_text()).get("pruned", []))
    except (OSError, ValueError):
        return 0


def test_killing_a_prune_at_any_point_leaves_everything_readable(with_state: Path) -> None:
    """SIGKILL a real `ftui prune --yes` after its k-th recorded deletion, for growing k:
    each time every version reads clean; a last prune finishes the job."""
    _many_checkpoints(with_state, 30, 40)
    meta_path = meta(with_state, A)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    args = [sys.executable, "-m", "ftui.cli", "prune", str(with_state), A, "--keep-best", "1",
            "--drop-optimizer-state", "--yes"]  # fmt: skip
    killed_midway = 0
    for k in (1, 4, 9, 15, 22):
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while proc.poll() is None and _pruned_count(meta_path) < k and time.monotonic() < deadline:
            time.sleep(0.001)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed_midway += 1
        proc.wait(timeout=60)
        report = check_root(with_state)
        assert report.exit_code == 0, [str(p) for v in report.versions for p in v.version.problems]
        for v in scan(with_state):
            assert v.adapter is not None
            json.loads(v.metadata_path.read_text())  # type: ignore[union-attr]
    assert killed_midway >= 3
    finished = ftui("prune", str(with_state), A, "--keep-best", "1", "--drop-optimizer-state",
                    "--yes")  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert not list(with_state.glob(f"*/{TRASH_PREFIX}*"))
    v = version(with_state, A)
    best = ranked_by_loss(v.checkpoints)[0]
    assert [c.name for c in v.checkpoints] == sorted(
        {best.name, "checkpoint-129"}, key=lambda n: int(n.split("-")[1])
    )
    assert check_root(with_state).exit_code == 0


def test_state_of_unknown_checkpoint_files_is_left(with_state: Path) -> None:
    add_state(with_state)
    (folder(with_state, A) / "checkpoint-33" / "notes.txt").write_text("mine")
    execute(plan_prune([version(with_state, A)], PruneOptions(drop_state=True)), with_state)
    assert (folder(with_state, A) / "checkpoint-33" / "notes.txt").read_text() == "mine"
    assert not (folder(with_state, A) / "checkpoint-33" / "optimizer.pt").exists()
    assert (folder(with_state, A) / "checkpoint-99" / "optimizer.pt").exists()
