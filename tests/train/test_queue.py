"""The device queue with real detached processes and no app: order, cancel, damage."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftui.store import Status, scan
from ftui.store.fields import parse_time
from ftui.store.liveness import Liveness, check_process
from ftui.store.naming import version_folder

from .runs_helpers import ftui, kill_leftovers, metadata, train_args, wait_until


@pytest.fixture(autouse=True)
def no_leftover_runs(tmp_path: Path) -> Iterator[None]:
    yield
    kill_leftovers(tmp_path)


def detach(root: Path, data: tuple[Path, Path], *args: str) -> str:
    done = ftui(*train_args(data, "--root", str(root), "--detach", *args), timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[-1]


def status(root: Path, version_id: str) -> str | None:
    try:
        return metadata(root, version_id).get("status")
    except FileNotFoundError:
        return None


def test_two_detached_runs_run_one_after_the_other(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    first = detach(root, small_data, "--epochs", "3")
    second = detach(root, small_data, "--epochs", "1")
    assert wait_until(lambda: metadata(root, second).get("queue") == {"position": 1}, 120)
    versions = {v.id: v for v in scan(root)}
    assert versions[second].status is Status.QUEUED
    assert versions[first].status in (Status.RUNNING, Status.QUEUED)
    assert wait_until(lambda: status(root, second) == "completed", 300)
    one, two = metadata(root, first), metadata(root, second)
    assert one["status"] == "completed"
    finished = parse_time(one["run"]["finished_at"])
    started = parse_time(two["run"]["started_at"])
    assert finished is not None and started is not None and started >= finished
    events = (version_folder(root, second) / "events.jsonl").read_text()
    assert "queued: position 1, waiting for the device" in events
    assert "queue" not in two
    assert json.loads((root / ".ftui" / "queue.json").read_text()) == {"entries": []}


def test_cancelling_a_queued_run_removes_it(small_data: tuple[Path, Path], tmp_path: Path) -> None:
    root = tmp_path / "versions"
    first = detach(root, small_data, "--epochs", "50")
    second = detach(root, small_data)
    assert wait_until(lambda: metadata(root, second).get("queue") == {"position": 1}, 120)
    done = ftui("cancel", second, "--root", str(root), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{second}: removed from the queue"
    assert (
        not version_folder(root, second).exists()
        and not (root / f"metadata_{second}.json").exists()
    )
    done = ftui("cancel", first, "--root", str(root), timeout=120)
    assert done.returncode == 0, done.stderr
    assert metadata(root, first)["status"] == "cancelled"


def test_runs_on_different_devices_run_together_and_see_their_devices(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    ids = [detach(root, small_data, "--epochs", "50", "--devices", n) for n in ("0", "1")]
    try:
        assert wait_until(lambda: all(status(root, v) == "running" for v in ids), 120)
        for version_id, device in zip(ids, ("0", "1"), strict=True):
            pid = metadata(root, version_id)["run"]["pid"]
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"CUDA_VISIBLE_DEVICES={device}".encode() in environ
            assert metadata(root, version_id)["run"]["devices"] == [int(device)]
    finally:
        for version_id in ids:
            ftui("cancel", version_id, "--root", str(root), timeout=120)
    assert [status(root, v) for v in ids] == ["cancelled", "cancelled"]


def test_a_damaged_queue_file_is_reported_and_blocks_nothing(
    small_data: tuple[Path, Path], tmp_path: Path
) -> None:
    root = tmp_path / "versions"
    (root / ".ftui").mkdir(parents=True)
    (root / ".ftui" / "queue.json").write_text('{"entries": [{"oops"')
    first = detach(root, small_data, "--epochs", "50")
    second = detach(root, small_data, "--epochs", "1")
    assert wait_until(lambda: metadata(root, second).get("queue") == {"position": 1}, 120)
    assert status(root, first) == "running"
    log = "".join(p.read_text() for p in root.glob("*/events.jsonl"))
    assert "was damaged" in log and "starting a fresh queue" in log
    assert list((root / ".ftui").glob("queue.json.damaged-*"))
    ftui("cancel", first, "--root", str(root), timeout=120)
    assert wait_until(lambda: status(root, second) == "completed", 300)


def test_bad_devices_are_refused(small_data: tuple[Path, Path], tmp_path: Path) -> None:
    done = ftui(*train_args(small_data, "--root", str(tmp_path), "--devices", "gpu0"))
    assert done.returncode == 2 and "expected GPU indices" in done.stderr
    assert check_process({"pid": None}) is Liveness.UNKNOWN
