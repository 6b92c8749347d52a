"""Benchmark the version store: scan time vs. the bare-I/O floor, import time, peak memory.

    python bench/bench_store.py [--sizes 1000 10000] [--repeat 5] [--dir bench/out]

For each N it writes N synthetic versions once, in the tutorial's real naming
(`v_<stamp>/` + `metadata_<stamp>.json`; metadata ~0.5 KB, adapter_config.json, a
safetensors adapter with 24 LoRA tensors, trainer_state.json with 100 log entries), then
times, warm and interleaved:
  scan        ftui.store.scan(root): metadata + adapter_config + validated header
  floor       a bare loop: json.load of metadata and adapter_config + header read
  check       what `ftui --check --no-ui` does: check_root(root) and its text report
  check floor the bare loop plus json.load of trainer_state.json
and prints the medians and their ratios. Targets: scan of 10,000 < 0.5 s; both ratios
<= 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "support"))  # synth: test-data generators

from synth import write_many  # noqa: E402

from ftui.store import check_root, scan  # noqa: E402
from ftui.store.check import format_report  # noqa: E402


def ensure_root(base: Path, n: int) -> Path:
    root = base / f"tutorial_versions_{n}"
    done = root / ".complete"
    if not done.exists():
        import shutil

        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        started = time.perf_counter()
        write_many(root, n, hidden=16)
        done.touch()
        print(f"  wrote {n} versions in {time.perf_counter() - started:.1f} s", flush=True)
    return root


def floor(root: Path, with_history: bool = False) -> int:
    """The same files read with no validation, no objects: the least any scan can do
    (with `with_history`, the least a check can do: trainer_state.json too)."""
    count = 0
    for meta in root.glob("metadata_*.json"):
        folder = root / ("v_" + meta.name[len("metadata_") : -len(".json")])
        with open(meta, "rb") as f:
            json.load(f)
        with open(folder / "adapter_config.json", "rb") as f:
            json.load(f)
        if with_history:
            with open(folder / "trainer_state.json", "rb") as f:
                json.load(f)
        with open(folder / "adapter_model.safetensors", "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            json.loads(f.read(n))
        count += 1
    return count


def check_floor(root: Path) -> int:
    return floor(root, with_history=True)


def check(root: Path) -> int:
    """`ftui --check --no-ui root` without the printing: the report and its lines."""
    report = check_root(root, shapes=False)
    format_report(report)
    return len(report.versions)


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def import_time(repeat: int, statement: str) -> tuple[float, float]:
    """Median wall time of `python -c STATEMENT` and of `python -c pass`."""

    # Bytecode caching on, as on a user's machine (this sandbox sets PYTHONDONTWRITEBYTECODE,
    # which would make every run compile ftui from source); the first run writes the cache.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def run(code: str) -> float:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env)
        return time.perf_counter() - started

    run(statement)

    store = statistics.median(run(statement) for _ in range(repeat))
    bare = statistics.median(run("pass") for _ in range(repeat))
    return store, bare


def peak_memory(root: Path) -> float:
    """Peak RSS (MB) of a fresh process that scans `root`, less that of one that does not."""
    code = (
        "import resource, sys; from pathlib import Path; from ftui.store import scan;"
        "{scan}print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    with_scan = subprocess.run(
        [sys.executable, "-c", code.format(scan=f"scan(Path({str(root)!r}));")],
        capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    return int(with_scan.stdout) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=REPO / "bench" / "out")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}")
    stdlib = "import json, dataclasses, pathlib, typing, enum, re, datetime"
    for statement in ("import ftui.store", "from ftui.store import scan, check_root", stdlib):
        store_s, bare_s = import_time(max(args.repeat, 9), statement)
        print(f"{statement}: {1000 * (store_s - bare_s):.1f} ms "
              f"(interpreter start alone {1000 * bare_s:.1f} ms)")  # fmt: skip
    for n in args.sizes:
        root = ensure_root(args.dir, n)
        assert len(scan(root)) == n and floor(root) == n  # warm the page cache, check counts
        scans, floors = [], []
        for _ in range(args.repeat):
            scans.append(timed(scan, root))
            floors.append(timed(floor, root))
        s, f = statistics.median(scans), statistics.median(floors)
        rss = peak_memory(root)
        print(f"N={n:>6}: scan {s * 1000:7.1f} ms   floor {f * 1000:7.1f} ms   "
              f"ratio {s / f:4.2f}   peak RSS {rss:5.1f} MB   "
              f"({s / n * 1e6:.1f} us/version)")  # fmt: skip
        assert check(root) == n and check_floor(root) == n
        checks, check_floors = [], []
        for _ in range(args.repeat):
            checks.append(timed(check, root))
            check_floors.append(timed(check_floor, root))
        c, cf = statistics.median(checks), statistics.median(check_floors)
        print(f"N={n:>6}: check --no-ui {c * 1000:7.1f} ms   floor {cf * 1000:7.1f} ms   "
              f"ratio {c / cf:4.2f}")  # fmt: skip
    print(
        f"this process: max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
