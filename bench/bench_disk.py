"""Benchmark sizes: `root_sizes` (what `ftui du` and the app's status line compute)
against `du -sb` over the same folder, and the prune plan.

    python bench/bench_disk.py [--sizes 1000 10000] [--repeat 3] [--dir bench/out]

For each N it writes N synthetic versions (bench_store's folders, reused when present)
with 3 checkpoints each (adapter copies plus optimizer/scheduler/RNG state files), then
times, warm and interleaved, medians:
  sizes  ftui.store.sizes.root_sizes(root, scan(root)) (the scan is done once, outside)
  du     the `du -sb` command over the same root (the oracle; a C program, one process)
  plan   plan_prune(versions, keep_best=1, drop_state=True)
and checks that both totals agree.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "support"))  # synth: test-data generators

from synth import write_many  # noqa: E402

from ftui.store import scan  # noqa: E402
from ftui.store.prune import PruneOptions, plan_prune  # noqa: E402
from ftui.store.sizes import root_sizes  # noqa: E402
from ftui.store.writer import update_metadata  # noqa: E402


def ensure_root(base: Path, n: int) -> Path:
    root = base / f"disk_{n}"
    done = root / ".complete"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    write_many(root, n)
    for version in scan(root):
        epochs = []
        for i, step in enumerate((10, 20, 30), start=1):
            ckpt = version.path / f"checkpoint-{step}"
            ckpt.mkdir()
            shutil.copy(version.path / "adapter_model.safetensors", ckpt)
            shutil.copy(version.path / "adapter_config.json", ckpt)
            for name, size in (("optimizer.pt", 4000), ("scheduler.pt", 600),
                               ("rng_state.pth", 1400)):  # fmt: skip
                (ckpt / name).write_bytes(b"\0" * size)
            losses = {"train_loss": 3.0 - i * 0.1, "eval_loss": 3.0 - (i % 2) * 0.2}
            epochs.append({"epoch": i, "step": step, "checkpoint": ckpt.name, **losses})
        assert version.metadata_path is not None
        update_metadata(version.metadata_path, {"epochs": epochs})
    done.write_text("")
    return root


def du_sb(root: Path) -> int:
    out = subprocess.run(["du", "-sb", str(root)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0])


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", default=str(REPO / "bench" / "out"))
    args = parser.parse_args()
    for n in args.sizes:
        root = ensure_root(Path(args.dir), n)
        versions = scan(root)
        (root / ".complete").unlink()  # not part of what is measured
        try:
            ours, theirs = root_sizes(root, versions).total, du_sb(root)
            assert ours == theirs, (ours, theirs)
            times: dict[str, list[float]] = {"sizes": [], "du": [], "plan": []}
            options = PruneOptions(keep_best=1, drop_state=True)
            for _ in range(args.repeat):
                times["sizes"].append(timed(root_sizes, root, versions))
                times["du"].append(timed(du_sb, root))
                times["plan"].append(timed(plan_prune, versions, options))
        finally:
            (root / ".complete").write_text("")
        files = sum(len(f) + len(d) for _, d, f in os.walk(root))
        med = {k: statistics.median(v) for k, v in times.items()}
        ms = {k: f"{v * 1000:.0f} ms" for k, v in med.items()}
        print(f"{n} versions ({files:,} entries, {ours:,} bytes, equal to du -sb): "
              f"sizes {ms['sizes']}, du -sb {ms['du']} (ratio {med['sizes'] / med['du']:.2f}),"
              f" prune plan {ms['plan']}")  # fmt: skip


if __name__ == "__main__":
    main()
