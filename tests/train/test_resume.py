"""`ftui resume`: a run killed with kill -9 during epoch 3 of 4, resumed, ends exactly where
the uninterrupted run does; and every refusal leaves the version untouched."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from ftui.store import Status, scan
from ftui.store.naming import version_folder
from ftui.store.writer import update_metadata
from ftui.train.events import EVENTS_FILE, Progress, parse_event_lines

from .conftest import TrainedRun
from .runs_helpers import ftui, metadata, start_train, version_of, wait_for_line

SPEC = ("--epochs", "4", "--batch-size", "1", "--seed", "7")


def progress_epochs(folder: Path) -> list[float]:
    try:
        events, _ = parse_event_lines((folder / EVENTS_FILE).read_bytes())
    except OSError:
        return []
    return [e.epoch for e in events if isinstance(e, Progress) and e.epoch is not None]


def test_killed_in_epoch_3_and_resumed_ends_like_the_uninterrupted_run(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    whole_root, cut_root = tmp_path / "whole", tmp_path / "cut"
    whole = start_train(whole_root, small_data, *SPEC, "-q")
    out, err = whole.communicate(timeout=600)
    assert whole.returncode == 0, err[-2000:]
    whole_meta = metadata(whole_root, out.split()[-1])

    process = start_train(cut_root, small_data, *SPEC)
    version_id = version_of(wait_for_line(process, "epoch 2: saved"))
    # Stopped at once and let go in short slices (a step or a few each), so a loaded
    # machine cannot carry it past epoch 3 before the kill: the first step after each
    # pause reports progress, since the pause counts toward its reporting interval.
    process.send_signal(signal.SIGSTOP)
    folder = version_folder(cut_root, version_id)
    deadline = time.monotonic() + 120
    while not any(2 < e < 3 for e in progress_epochs(folder)) and time.monotonic() < deadline:
        process.send_signal(signal.SIGCONT)
        time.sleep(0.02)
        process.send_signal(signal.SIGSTOP)
        time.sleep(0.02)
    process.kill()  # kill -9 in the middle of epoch 3
    process.wait()
    assert any(2 < e < 3 for e in progress_epochs(folder))
    (version,) = scan(cut_root)
    assert version.status is Status.INTERRUPTED
    assert [c.name for c in version.checkpoints] == ["checkpoint-48", "checkpoint-96"]

    done = ftui("resume", f"v_{version_id}", "--root", str(cut_root), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "resuming from checkpoint-96 (digests verified)" in done.stderr
    assert done.stdout.split()[-1] == version_id
    cut_meta = metadata(cut_root, version_id)
    assert cut_meta["status"] == "completed"
    assert [e["checkpoint"] for e in cut_meta["epochs"]] == [
        e["checkpoint"] for e in whole_meta["epochs"]
    ]
    for key in ("final_train_loss", "final_eval_loss"):
        assert cut_meta["metrics"][key] == pytest.approx(whole_meta["metrics"][key], abs=1e-6)
    for ours, theirs in zip(cut_meta["epochs"], whole_meta["epochs"], strict=True):
        assert ours["eval_loss"] == pytest.approx(theirs["eval_loss"], abs=1e-6)
    assert cut_meta["run"]["resumes"][0]["checkpoint"] == "checkpoint-96"
    history = json.loads((version_folder(cut_root, version_id) / "trainer_state.json").read_text())
    assert {round(h["epoch"]) for h in history["log_history"] if "eval_loss" in h} == {1, 2, 3, 4}
    (version,) = scan(cut_root)
    assert version.status is Status.COMPLETED and not version.problems


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_resume_refusals_change_nothing(trained: TrainedRun, tmp_path: Path) -> None:
    version_id = trained.result.version_id
    done = ftui("resume", version_id, "--root", str(trained.root))
    assert done.returncode == 2 and "is completed: there is nothing to resume" in done.stderr

    root = tmp_path / "copy"
    shutil.copytree(trained.root, root)
    meta = root / f"metadata_{version_id}.json"
    update_metadata(meta, {"status": "cancelled"})
    with open(version_folder(root, version_id) / "checkpoint-12" / "optimizer.pt", "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 1]))  # same size, one bit flipped
    before = snapshot(root)
    done = ftui("resume", version_id, "--root", str(root))
    assert done.returncode == 2
    assert "checkpoint-12: optimizer.pt: sha256 differs" in done.stderr
    assert done.stderr.count("\n") == 1
    assert snapshot(root) == before
    done = ftui("resume", version_id, "--root", str(root), "--checkpoint", "99")
    assert done.returncode == 2 and "has no checkpoint-99" in done.stderr
    done = ftui("resume", version_id, "--root", str(root), "--checkpoint", "6")
    assert done.returncode == 2 and "checkpoint-12 is later than checkpoint-6" in done.stderr
    update_metadata(meta, lambda r: r.pop("checkpoint_files"))
    before = snapshot(root)
    done = ftui("resume", version_id, "--root", str(root))
    assert done.returncode == 2 and "records no checkpoint digests" in done.stderr
    assert snapshot(root) == before
