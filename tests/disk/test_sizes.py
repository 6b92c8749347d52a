"""Sizes: the per-kind breakdown, `ftui du`, and agreement with `du -sb`."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from disk_helpers import SAMPLES, STATE_FILES, du_sb, ftui
from synth import write_many

from ftui.store import scan
from ftui.store.sizes import KINDS, root_sizes, tree_bytes, version_breakdown


def test_root_total_matches_du_on_the_samples(samples: Path) -> None:
    sizes = root_sizes(samples, scan(samples))
    assert sizes.total == du_sb(samples)
    for version in scan(samples):
        expected = du_sb(version.path) + os.lstat(version.metadata_path).st_size
        assert sizes.versions[version.id].total == expected


def test_breakdown_by_kind(with_state: Path) -> None:
    version = scan(with_state)[0]
    b = version_breakdown(version)
    adapter = sum(
        (version.path / n).stat().st_size
        for n in ("adapter_model.safetensors", "adapter_config.json")
    )
    assert b.adapter == adapter
    assert b.state == sum(STATE_FILES.values()) * len(version.checkpoints)
    logs = sum((version.path / n).stat().st_size for n in ("events.jsonl", "trainer_state.json"))
    assert b.logs == logs
    assert set(b.checkpoint_sizes) == {c.name for c in version.checkpoints}
    for checkpoint in version.checkpoints:
        assert b.checkpoint_sizes[checkpoint.name] == du_sb(checkpoint.path)
    assert b.checkpoints + b.state == sum(b.checkpoint_sizes.values())
    assert b.total == sum(getattr(b, k) for k in KINDS)


def test_generated_folder_with_links_hardlinks_and_strays(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    write_many(root, 5)
    first = sorted(root.glob("v_*"))[0]
    (first / "checkpoint-10" / "nested").mkdir(parents=True)
    (first / "checkpoint-10" / "optimizer.pt").write_bytes(b"x" * 5000)
    (first / "checkpoint-10" / "nested" / "blob.bin").write_bytes(b"y" * 777)
    os.link(first / "adapter_model.safetensors", first / "hardlinked.safetensors")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "big").write_bytes(b"z" * 100_000)
    os.symlink(outside, first / "link-out")
    os.symlink(outside, root / "v_linked")  # a version folder that is a link: not followed
    (root / "stray.txt").write_text("not a version")
    (root / "loose").mkdir()
    (root / "loose" / "f").write_bytes(b"q" * 123)
    sizes = root_sizes(root, scan(root))
    assert sizes.total == du_sb(root)
    assert sizes.versions[first.name.removeprefix("v_")].state == 5000
    assert tree_bytes(root) == du_sb(root)


def test_trainer_folder_given_as_the_root(tmp_path: Path) -> None:
    run = tmp_path / "out"  # a plain Trainer output_dir: checkpoints, no metadata
    checkpoint = sorted(SAMPLES.glob("v_*/checkpoint-*"))[0]
    shutil.copytree(checkpoint, run / checkpoint.name)
    (run / "trainer_state.json").write_text("{}")
    versions = scan(run)
    assert len(versions) == 1
    assert root_sizes(run, versions).total == du_sb(run)


def test_du_command_text_and_json_agree_with_du(with_state: Path) -> None:
    proc = ftui("du", str(with_state), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["total"] == du_sb(with_state)
    assert sum(report["by_kind"].values()) == report["total"]
    totals = [v["total"] for v in report["versions"]]
    assert totals == sorted(totals, reverse=True)  # largest first
    text = ftui("du", "--root", str(with_state), "--bytes")
    assert text.returncode == 0
    assert f"({report['total']} bytes)" in text.stdout
    assert all(len(line) <= 80 for line in text.stdout.splitlines()[:-1])


def test_du_on_a_missing_root_is_a_usage_error(tmp_path: Path) -> None:
    proc = ftui("du", str(tmp_path / "nope"))
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
