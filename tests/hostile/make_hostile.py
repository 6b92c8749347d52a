"""Build the hostile folders of issue 10, one per case, inside a sandbox.

Every case is a root `<sandbox>/model_versions` next to things that must never change:
`<sandbox>/sentinel.txt` (the root's parent holds it) and `<sandbox>/outside/`, a folder
some links point into. Run it by hand to look at a case:

    python tests/hostile/make_hostile.py DIR CASE      # CASE: one of CASES, or "all"
"""

from __future__ import annotations

import json
import os
import struct
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

# Run as a script too: the generators live in tests/support (not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from synth import write_version  # noqa: E402

ROOT_NAME = "model_versions"
GOOD = "v_20260101_100000"
GOOD2 = "v_20260102_100000"


def sandbox(base: Path) -> Path:
    """`base/model_versions` with a sentinel beside it and an `outside/` folder."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "sentinel.txt").write_text("the root's parent: must survive\n")
    outside = base / "outside"
    (outside / "checkpoint-5").mkdir(parents=True)
    (outside / "checkpoint-5" / "adapter_model.safetensors").write_bytes(b"not yours")
    (outside / "precious.txt").write_text("outside the root: must survive\n")
    root = base / ROOT_NAME
    root.mkdir()
    return root


def good(root: Path, version_id: str = GOOD, **extra: object) -> Path:
    """One small, real, healthy version (ftui layout when `extra` is given)."""
    meta = {"schema_version": 1, "status": "completed", **extra} if extra else None
    return write_version(root, version_id, r=4, alpha=8, layers=1, history_entries=6,
                         extra_metadata=meta)  # fmt: skip


def meta(root: Path, version_id: str, record: dict[str, object] | str) -> Path:
    path = root / f"metadata_{version_id}.json"
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    return path


# -- case 1: ids that name the root or its parent ------------------------------------


def bad_ids(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    for name in ("metadata_.json", "metadata_..json", "metadata_...json"):
        (root / name).write_text(json.dumps({"version_id": "", "model_name": "gpt2"}))
    return root


def root_is_a_run(base: Path) -> Path:
    """A root that is itself a Trainer output folder: its one version is the root."""
    root = sandbox(base)
    (root / "checkpoint-5").mkdir()
    (root / "trainer_state.json").write_text(json.dumps({"log_history": []}))
    return root


# -- case 2: an event log that never ends, or blocks ---------------------------------


def _running(root: Path) -> Path:
    folder = good(root, GOOD, status="running",
                  run={"pid": os.getpid(), "host": os.uname().nodename,
                       "heartbeat_at": "2999-01-01T00:00:00"})  # fmt: skip
    return folder


def events_dev_zero(base: Path) -> Path:
    root = sandbox(base)
    (_running(root) / "events.jsonl").symlink_to("/dev/zero")
    return root


def events_fifo(base: Path) -> Path:
    root = sandbox(base)
    os.mkfifo(_running(root) / "events.jsonl")
    return root


def events_one_huge_line(base: Path) -> Path:
    """A 300 MB sparse regular file with no newline: one endless "line"."""
    root = sandbox(base)
    with open(_running(root) / "events.jsonl", "wb") as handle:
        handle.truncate(300 * 1024 * 1024)
    return root


# -- case 3: deep data and long lineages ----------------------------------------------


def deep_json(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    good(root, GOOD2, notes="valid JSON, 900 levels deep below")
    meta_path = root / f"metadata_{GOOD2}.json"
    record = json.loads(meta_path.read_text())
    text = json.dumps(record)[:-1] + ', "deep": ' + "[" * 900 + "]" * 900 + "}"
    meta_path.write_text(text)
    return root


def long_chain(base: Path, length: int = 1200) -> Path:
    """`length` versions, each the parent of the next (metadata only: quick to scan)."""
    root = sandbox(base)
    start = datetime(2026, 1, 1)
    for i in range(length):
        version_id = f"v_{start + timedelta(minutes=i):%Y%m%d_%H%M%S}"
        parent = f"v_{start + timedelta(minutes=i - 1):%Y%m%d_%H%M%S}" if i else None
        (root / version_id).mkdir()
        meta(root, version_id, {"schema_version": 1, "status": "failed",
                                "timestamp": (start + timedelta(minutes=i)).isoformat(),
                                "parent": {"version_id": parent} if parent else None})  # fmt: skip
    return root


# -- case 4: a version folder that is a link ------------------------------------------


def link_to_slash(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    (root / GOOD2).symlink_to("/")
    meta(root, GOOD2, {"schema_version": 1, "status": "completed", "model_name": "gpt2"})
    return root


def link_to_outside(base: Path) -> Path:
    """A version whose folder links to `outside/`, which has a checkpoint-5/."""
    root = sandbox(base)
    good(root)
    (root / GOOD2).symlink_to(base / "outside")
    meta(root, GOOD2, {"schema_version": 1, "status": "completed", "model_name": "gpt2"})
    return root


# -- case 5: large text ------------------------------------------------------------------


def huge_notes(base: Path, megabytes: int = 20) -> Path:
    root = sandbox(base)
    good(root)
    good(root, GOOD2, notes=("all work and no play " * 50 + "\n") * (megabytes * 1000))
    return root


# -- case 6: numbers JSON cannot hold, names UTF-8 cannot ------------------------------


def infinite_alpha(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    folder = good(root, GOOD2)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["lora_alpha"] = float("inf")
    (folder / "adapter_config.json").write_text(json.dumps(config))  # writes Infinity
    return root


def non_utf8_name(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    name = os.fsdecode(b"v_\xff\xfe_latin1")
    good(root, name)
    return root


# -- case 7: text that lies on screen ----------------------------------------------------


RTL_NAME = "v_rtl\u202etxt.exe"
ACCENTS = "a" + "\u0301" * 50


def odd_text(base: Path) -> Path:
    root = sandbox(base)
    good(root, RTL_NAME, model_name="gpt\u2066\u200b2", notes="x" + "\u0301" * 50)
    good(root, GOOD2, model_name=ACCENTS, tags=["\u202eevil", ACCENTS])
    return root


# -- case 8: a planted lock file -----------------------------------------------------------


def lock_link(base: Path) -> Path:
    root = sandbox(base)
    good(root, GOOD, tags=["a"])
    (root / f".metadata_{GOOD}.json.lock").symlink_to(base / "outside" / "created-by-lock")
    return root


# -- case 9: a sparse adapter claiming gigabytes ---------------------------------------


CLAIMED = (8, 100_000_000)  # F32: 3.2 GB


def sparse_adapter(base: Path) -> Path:
    root = sandbox(base)
    good(root)
    folder = good(root, GOOD2)
    nbytes = CLAIMED[0] * CLAIMED[1] * 4
    header: dict[str, object] = {}
    offset = 0
    for side, shape in (("A", CLAIMED), ("B", (64, CLAIMED[0]))):
        size = shape[0] * shape[1] * 4
        key = f"base_model.model.transformer.h.0.attn.c_attn.lora_{side}.weight"
        header[key] = {"dtype": "F32", "shape": list(shape),
                       "data_offsets": [offset, offset + size]}  # fmt: skip
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path = folder / "adapter_model.safetensors"
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw)
        handle.truncate(8 + len(raw) + offset)  # holes: 4 KB on disk
    assert offset > nbytes
    return root


# -- case 10: silence ----------------------------------------------------------------------


def lineage_loops(base: Path) -> Path:
    root = sandbox(base)
    good(root, "v_20260101_100000", parent={"version_id": "v_20260101_100000"})
    good(root, "v_20260102_100000", parent={"version_id": "v_20260103_100000"})
    good(root, "v_20260103_100000", parent={"version_id": "v_20260102_100000"})
    good(root, "v_20260104_100000", parent={"version_id": "v_20250101_000000"})
    return root


def missing_parent_only(base: Path) -> Path:
    root = sandbox(base)
    good(root, GOOD, parent={"version_id": "v_20250101_000000"})
    return root


def failed_and_cancelled(base: Path) -> Path:
    root = sandbox(base)
    good(root, GOOD, status="failed", error="CUDA out of memory")
    good(root, GOOD2, status="cancelled")
    return root


CASES: dict[str, Callable[[Path], Path]] = {
    f.__name__: f
    for f in (bad_ids, root_is_a_run, events_dev_zero, events_fifo, events_one_huge_line,
              deep_json, long_chain, link_to_slash, link_to_outside, huge_notes,
              infinite_alpha, non_utf8_name, odd_text, lock_link, sparse_adapter,
              lineage_loops, missing_parent_only, failed_and_cancelled)
}  # fmt: skip


if __name__ == "__main__":
    target, which = Path(sys.argv[1]), sys.argv[2]
    for name in CASES if which == "all" else [which]:
        print(CASES[name](target / name))
