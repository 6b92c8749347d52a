"""Stopping runs from anywhere: `ftui cancel`, SIGTERM, SIGHUP, kill -9 (real processes)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from ftui.store import Status, scan
from ftui.store.liveness import identity
from ftui.store.naming import version_folder
from ftui.store.writer import update_metadata

from .conftest import TrainedRun
from .runs_helpers import ftui, metadata, start_train, version_of, wait_for_line, wait_until


def test_ftui_cancel_stops_a_run_after_its_step_and_keeps_checkpoints(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    process = start_train(root, small_data)
    lines = wait_for_line(process, "epoch 1: saved")
    version_id = version_of(lines)
    meta = metadata(root, version_id)["run"]
    assert (
        meta["pid"] == process.pid and meta["start_ticks"] == identity(process.pid)["start_ticks"]
    )
    other = "v_" + version_id if not version_id.startswith("v_") else version_id[2:]
    done = ftui("cancel", other, "--root", str(root), timeout=120)  # with or without v_
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{version_id}: cancelled"
    assert process.wait(timeout=60) == 130
    record = metadata(root, version_id)
    assert record["status"] == "cancelled"
    assert (version_folder(root, version_id) / "checkpoint-6").is_dir()
    assert "checkpoint-6" in record["checkpoint_files"]
    (version,) = scan(root)
    assert version.status is Status.CANCELLED and version.checkpoints[0].name == "checkpoint-6"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_a_foreground_run_cleanly(
    small_data: tuple[Path, Path], tmp_path: Path, signum: int
) -> None:
    root = tmp_path / "versions"
    process = start_train(root, small_data)
    version_id = version_of(wait_for_line(process, "epoch 1: saved"))
    process.send_signal(signum)
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err[-2000:]
    assert metadata(root, version_id)["status"] == "cancelled"
    events = (version_folder(root, version_id) / "events.jsonl").read_text()
    assert '"kind": "cancelled"' in events


def test_kill_9_reads_as_interrupted_with_earlier_checkpoints(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    process = start_train(root, small_data)
    version_id = version_of(wait_for_line(process, "epoch 2: saved"))
    process.kill()
    process.wait()
    (version,) = scan(root)
    assert version.status is Status.INTERRUPTED
    assert [c.name for c in version.checkpoints][:2] == ["checkpoint-6", "checkpoint-12"]
    refused = ftui("cancel", version_id, "--root", str(root))
    assert refused.returncode == 2 and "is gone" in refused.stderr
    assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("error: ")


def test_cancel_refuses_what_is_not_the_run(trained: TrainedRun, tmp_path: Path) -> None:
    """A completed version, another host, a recycled pid, an unknown name: one line each,
    and nothing is signalled (the pid recorded is this test's own process)."""
    root = trained.root
    version_id = trained.result.version_id
    done = ftui("cancel", version_id, "--root", str(root))
    assert done.returncode == 2 and "is not running (it is completed)" in done.stderr

    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    meta = copy / f"metadata_{version_id}.json"
    me = identity()

    def running(**run: object) -> None:
        update_metadata(meta, lambda r: r.update(status="running", run={**me, **run}))

    running(host="gpu-box-7")
    done = ftui("cancel", version_id, "--root", str(copy))
    assert done.returncode == 2
    assert f"runs on host gpu-box-7, not on this one ({socket.gethostname()})" in done.stderr
    running(start_ticks=int(me["start_ticks"]) + 1)  # type: ignore[call-overload]
    done = ftui("cancel", version_id, "--root", str(copy))
    assert done.returncode == 2 and f"process {os.getpid()} is not" in done.stderr
    running(launch="in-process")
    done = ftui("cancel", version_id, "--root", str(copy))
    assert done.returncode == 2 and "inside an ftui app" in done.stderr
    done = ftui("cancel", "nope", "--root", str(copy))
    assert done.returncode == 2 and "no version 'nope'" in done.stderr


def test_a_stopped_run_is_not_interrupted_and_cancel_continues_it(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    """ctrl+z: the process is stopped, not dead; it is never offered as interrupted, and
    `ftui cancel` continues it so that it can stop cleanly."""
    root = tmp_path / "versions"
    process = start_train(root, small_data)
    version_id = version_of(wait_for_line(process, "epoch 1: saved"))
    process.send_signal(signal.SIGSTOP)
    try:
        update_metadata(  # as if the heartbeat had been silent for an hour
            root / f"metadata_{version_id}.json",
            lambda r: r["run"].update(heartbeat_at="2000-01-01T00:00:00+00:00"),
        )
        assert scan(root)[0].status is Status.RUNNING
        done = ftui("cancel", version_id, "--root", str(root), timeout=120)
        assert done.returncode == 0, done.stderr
    finally:
        process.send_signal(signal.SIGCONT)
        process.wait(timeout=120)
    assert metadata(root, version_id)["status"] == "cancelled"
    assert wait_until(lambda: process.returncode is not None)


def test_a_half_written_checkpoint_is_reported_never_offered(
    trained: TrainedRun, tmp_path: Path
) -> None:
    """kill -9 during a save leaves a folder with no recorded manifest; a truncated file
    in a recorded one no longer matches: neither is offered, both are reported."""
    import shutil

    from ftui.store.check import check_root

    root = tmp_path / "copy"
    shutil.copytree(trained.root, root)
    version_id = trained.result.version_id
    folder = version_folder(root, version_id)
    dead = identity()
    dead["pid"], dead["start_ticks"] = 999_999_999, 1
    update_metadata(
        root / f"metadata_{version_id}.json",
        lambda r: r.update(status="running", run={**r["run"], **dead}),
    )
    (folder / "checkpoint-18").mkdir()  # the save a kill -9 interrupted
    (folder / "checkpoint-18" / "adapter_config.json").write_text("{}")
    with open(folder / "checkpoint-12" / "optimizer.pt", "r+b") as handle:
        handle.truncate(10)
    (version,) = scan(root)
    assert version.status is Status.INTERRUPTED
    assert [c.name for c in version.checkpoints] == ["checkpoint-6"]
    problems = [str(p) for p in version.problems]
    assert any("checkpoint-18/: incomplete checkpoint: not recorded" in p for p in problems)
    assert any("checkpoint-12/: incomplete checkpoint: optimizer.pt differs" in p for p in problems)
    report = check_root(root)
    assert report.exit_code == 1
