"""Writers: exclusive ids, atomic metadata, unknown fields kept, nothing overwritten."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path

import pytest

from ftui.store import (
    Status,
    WriteError,
    claim_version,
    create_metadata,
    metadata_path,
    scan,
    set_notes,
    set_status,
    set_tags,
    update_metadata,
)

NOW = datetime(2026, 11, 25, 12, 0, 0)


def test_runs_started_in_the_same_second_get_different_ids(tmp_path: Path) -> None:
    claimed: list[str] = []
    lock = threading.Lock()

    def claim() -> None:
        version_id, _ = claim_version(tmp_path, now=NOW)
        with lock:
            claimed.append(version_id)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(claimed)) == 8
    assert "20261125_120000" in claimed and "20261125_120000_8" in claimed
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert folders == sorted(f"v_{v}" for v in claimed)  # the tutorial's `v_<id>/`


def test_claim_writes_the_tutorials_naming(tmp_path: Path) -> None:
    version_id, folder = claim_version(tmp_path, now=NOW)
    path = create_metadata(tmp_path, version_id, {"status": "running"})
    assert (version_id, folder.name) == ("20261125_120000", "v_20261125_120000")
    assert path.name == "metadata_20261125_120000.json"
    assert json.loads(path.read_text())["version_id"] == "20261125_120000"
    (only,) = scan(tmp_path)
    assert (only.id, only.path, only.metadata_path) == (version_id, folder, path)


@pytest.mark.parametrize(
    "leftover",
    ["metadata_20261125_120000.json", "metadata_v_20261125_120000.json", "20261125_120000"],
)
def test_a_leftover_file_is_never_reused(tmp_path: Path, leftover: str) -> None:
    """A metadata file (either naming) or a folder that could pair with the id: skip it."""
    (tmp_path / leftover).write_text('{"keep": true}')
    version_id, folder = claim_version(tmp_path, now=NOW)
    assert version_id == "20261125_120000_2" and folder.name == "v_20261125_120000_2"
    assert json.loads((tmp_path / leftover).read_text()) == {"keep": True}


def test_create_is_exclusive_and_update_keeps_unknown_fields(tmp_path: Path) -> None:
    version_id, _ = claim_version(tmp_path, now=NOW)
    path = create_metadata(tmp_path, version_id, {"status": "running", "custom": {"x": 1}})
    with pytest.raises(WriteError, match="refusing to overwrite"):
        create_metadata(tmp_path, version_id, {"status": "completed"})
    update_metadata(path, {"status": "completed"})
    set_tags(path, ["best", " best", "", "keep"])
    set_notes(path, "line one\nline two")
    set_status(path, Status.CANCELLED, error=None)
    assert json.loads(path.read_text())["status"] == "cancelled"
    update_metadata(path, {"status": "completed"})
    data = json.loads(path.read_text())
    assert data["custom"] == {"x": 1} and data["status"] == "completed"
    assert data["tags"] == ["best", "keep"] and data["schema_version"] == 1
    assert data["version_id"] == version_id
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    v = scan(tmp_path)[0]
    assert v.tags == ("best", "keep") and v.notes == "line one\nline two"


def test_update_with_a_function_and_concurrent_writers(tmp_path: Path) -> None:
    path = metadata_path(tmp_path, "v_1")
    path.write_text('{"n": 0}')

    def bump() -> None:
        for _ in range(20):
            update_metadata(path, lambda record: record.__setitem__("n", record["n"] + 1))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert json.loads(path.read_text())["n"] == 80  # no lost update


def test_damaged_metadata_is_not_rewritten(tmp_path: Path) -> None:
    path = metadata_path(tmp_path, "v_1")
    path.write_text('{"truncated": ')
    with pytest.raises(WriteError, match="invalid JSON"):
        set_tags(path, ["x"])
    assert path.read_text() == '{"truncated": '


def test_unwritable_root(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="cannot create"):
        claim_version(tmp_path / "file" / "sub")
