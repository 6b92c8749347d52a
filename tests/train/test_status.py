"""One status vocabulary: `ftui.store.Status` is what the engine writes, what its events
carry, what the app's run state holds, and what the store reads back.

Runs are real (the tiny offline model through the engine); the files they write are read
back with the same readers the app and the store use. On disk a status stays the plain
string it always was, so old and new versions remain one format.
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ftui.app.run_state import RunState
from ftui.store import Status, scan
from ftui.store.jsonio import read_json_object
from ftui.store.writer import metadata_path
from ftui.train.engine import RunResult, run_training
from ftui.train.events import (
    EVENT_TYPES,
    EVENTS_FILE,
    Cancelled,
    Ended,
    Event,
    Failed,
    Finished,
    Progress,
    Started,
    parse_event_lines,
)
from ftui.train.spec import RunSpec

from .conftest import TrainedRun

REPO = Path(__file__).resolve().parents[2]


def test_each_ending_event_carries_its_status_from_the_one_vocabulary() -> None:
    ending = {cls for cls in EVENT_TYPES.values() if issubclass(cls, Ended)}
    assert ending == {Finished, Failed, Cancelled}
    assert {cls: cls.status for cls in ending} == {
        Finished: Status.COMPLETED,
        Failed: Status.FAILED,
        Cancelled: Status.CANCELLED,
    }
    # the events' JSON form is unchanged: the status is the class's, not a field
    assert Cancelled(version_id="v", step=3).to_dict() == {
        "kind": "cancelled",
        "version_id": "v",
        "step": 3,
    }
    assert "status" not in Failed(version_id=None, error="e").to_dict()


def _run(outcome: str, make_spec: Callable[..., RunSpec], monkeypatch: pytest.MonkeyPatch):
    """A real run that ends `outcome`; the statuses its metadata had while it ran."""
    stop = threading.Event()
    seen: list[Event] = []
    spec = make_spec(epochs=2 if outcome == "cancelled" else 1)
    while_running: list[object] = []

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, Started):
            meta = read_json_object(metadata_path(Path(spec.root), event.version_id))
            while_running.append(meta["status"])
        if outcome == "cancelled" and isinstance(event, Progress):
            stop.set()

    if outcome == "failed":
        import transformers

        def out_of_memory(*args: object, **kwargs: object) -> None:
            raise RuntimeError("CUDA out of memory")

        monkeypatch.setattr(transformers.Trainer, "training_step", out_of_memory)
    result = run_training(spec, on_event, stop)
    return result, Path(spec.root), seen, while_running


@pytest.mark.parametrize("outcome", ["completed", "cancelled", "failed"])
def test_every_status_the_engine_writes_and_every_event_carries_is_the_enum(
    outcome: str, make_spec: Callable[..., RunSpec], monkeypatch: pytest.MonkeyPatch
) -> None:
    result, root, seen, while_running = _run(outcome, make_spec, monkeypatch)
    expected = Status(outcome)
    assert isinstance(result, RunResult) and result.status is expected, result.error
    assert result.version_id is not None and result.path is not None

    # while it ran: the plain string "running", read back as the enum
    assert while_running == ["running"] and type(while_running[0]) is str
    assert Status.parse(while_running[0]) is Status.RUNNING

    # the final metadata: the same bytes as ever, and the enum again when read back
    text = metadata_path(root, result.version_id).read_text(encoding="utf-8")
    assert f'"status": "{outcome}"' in text
    assert Status.parse(json.loads(text)["status"]) is expected
    (version,) = scan(root)
    assert version.status is expected

    # the ending event, as the engine handed it over and as events.jsonl has it
    assert isinstance(seen[-1], Ended) and seen[-1].status is expected
    logged, _ = parse_event_lines((result.path / EVENTS_FILE).read_bytes())
    endings = [e for e in logged if isinstance(e, Ended)]
    assert len(endings) == 1 and endings[0].status is expected

    # the app's view of the run, folded from the log it follows
    state = RunState(1, "run", following=True)
    for event in logged:
        state.apply(event)
        assert state.status is None or isinstance(state.status, Status)
    assert state.status is expected and not state.active
    assert state.status_text == outcome


def test_the_shared_runs_final_metadata_round_trips_to_the_enum(trained: TrainedRun) -> None:
    assert trained.result.status is Status.COMPLETED
    meta = read_json_object(metadata_path(trained.root, trained.result.version_id))
    assert meta["status"] == "completed" and type(meta["status"]) is str
    assert Status.parse(meta["status"]) is Status.COMPLETED
    version = next(v for v in scan(trained.root) if v.id == trained.result.version_id)
    assert version.status is Status.COMPLETED


def test_run_state_holds_enum_members_from_start_to_end() -> None:
    state = RunState(1, "t")
    assert state.status is None and state.active and state.status_text == "starting"
    assert state.progress_text() == "starting"
    state.apply(Started(version_id="v1", path="/x"))
    assert state.status is Status.RUNNING and state.active
    state.apply(Progress(step=1, total=4))
    assert state.status is Status.RUNNING
    state.apply(Failed(version_id="v1", error="boom"))
    assert state.status is Status.FAILED and state.error == "boom" and not state.active
    state.apply(Finished(version_id="v1"))  # a late event cannot change how it ended
    assert state.status is Status.FAILED

    followed = RunState(2, "f", following=True, status=Status.QUEUED)
    assert followed.active  # a queued run's process is alive and waiting
    followed.stopped_following = True
    assert not followed.active and followed.status_text == "stopped following"


@pytest.mark.parametrize("garbage", ['"RUNNING!"', '"completed\\u001b[2J"', "17", "null", "[]"])
def test_an_unknown_status_in_an_untrusted_file_never_crashes(tmp_path: Path, garbage: str) -> None:
    from ftui.runs.control import Refused, find, live_target, read_record, wait_for_end
    from ftui.runs.resume import plan

    root = tmp_path / "runs"
    (root / "v_20260101_000000").mkdir(parents=True)
    meta = root / "metadata_20260101_000000.json"
    meta.write_text('{"schema_version": 1, "status": ' + garbage + ', "run": {"pid": 1}}')
    assert Status.parse(json.loads(meta.read_text())["status"]) is None
    version = find(root, "20260101_000000")
    with pytest.raises(Refused, match="is not running") as refused:
        live_target(version, read_record(version))
    assert "\x1b" not in str(refused.value)
    with pytest.raises(Refused, match="nothing to resume"):
        plan(root, "20260101_000000")
    ended = wait_for_end(version, timeout=0)
    assert ended is (None if garbage == "null" else Status.DAMAGED)


def test_mypy_rejects_a_string_where_the_status_is_expected(tmp_path: Path) -> None:
    """Type hints say the enum: a bare string status is a type error, the enum is not."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(
        "from ftui.app.run_state import RunState\n"
        "from ftui.store.model import Status\n"
        "from ftui.train.engine import RunResult\n"
        "RunResult(None, None, Status.FAILED)\n"
        "RunState(1, 't').finish(Status.CANCELLED, None)\n"
        "RunResult(None, None, 'failed')\n"
        "RunState(1, 't').finish('cancelled', None)\n"
        "state: RunState = RunState(1, 't', status='running')\n"
    )
    out, _err, code = api.run(
        [str(snippet), "--config-file", "", "--cache-dir", str(tmp_path / "cache"),
         "--follow-imports=silent",
         "--ignore-missing-imports", "--no-error-summary", "--python-version", "3.11"]
    )  # fmt: skip
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert code == 1
    assert sorted(int(line.split(":")[1]) for line in errors) == [6, 7, 8], out
    assert all('"Status' in line for line in errors), out


def _status_literals(path: Path) -> list[str]:
    """Where `path` compares with, or records, a status as a bare string."""
    names = {status.value for status in Status}
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def bare(node: ast.AST | None) -> bool:
        if isinstance(node, ast.Constant):
            return node.value in names
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return any(bare(element) for element in node.elts)
        return False

    def status_key(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and node.value == "status"

    found = []
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.Compare):
            hit = any(bare(side) for side in (node.left, *node.comparators))
        elif isinstance(node, ast.Dict):
            pairs = zip(node.keys, node.values, strict=True)
            hit = any(status_key(k) and bare(v) for k, v in pairs)
        elif isinstance(node, ast.Assign):
            hit = bare(node.value) and any(
                isinstance(t, ast.Subscript) and status_key(t.slice) for t in node.targets
            )
        elif isinstance(node, ast.keyword):
            hit = node.arg == "status" and bare(node.value)
        if hit:
            found.append(f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}")
    return found


def test_no_module_compares_or_records_a_status_as_a_bare_string() -> None:
    package = REPO / "ftui"
    found = [hit for path in sorted(package.rglob("*.py")) for hit in _status_literals(path)]
    assert found == []
