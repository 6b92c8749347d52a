"""Benchmark `ftui --check` with its headless app pass against `ftui --check --no-ui`.

    python bench/bench_check.py [--sizes 1000 10000] [--repeat 3] [--cache DIR]

For each N it writes N synthetic versions once (tests/support/synth.py), then runs, in
turn and `repeat` times, the two commands as a user would (fresh processes) and prints
their medians, wall and CPU (user + system of the child: steadier on a shared machine),
and the ratio. The floor is `--check --no-ui` measured in the same run. Target: the
default `--check` within 3x of it at 10,000 versions. Also prints how many versions'
screens the app pass draws (check_plan.py).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "support"))  # synth: test-data generators


def make_root(cache: Path, n: int) -> Path:
    from synth import write_many

    root = cache / f"synth{n}"
    marker = root / f".complete-{n}-tutorial-naming"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        print(f"writing {n} synthetic versions to {root} …", flush=True)
        write_many(root, n)
        marker.write_text("")
    return root


def timed(args: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and exit code of `python -m ftui.cli`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(REPO)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ftui.cli", *args], capture_output=True, env=env, check=False
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=None, help="keep generated folders here")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="ftui-bench-check-"))
    cache.mkdir(parents=True, exist_ok=True)

    from ftui.app.check_plan import versions_to_draw
    from ftui.store.check import check_root

    print(f"== ftui --check vs --check --no-ui (medians of {args.repeat}, fresh processes)")
    failed = False
    for n in args.sizes:
        root = make_root(cache, n)
        drawn = len(versions_to_draw(check_root(root).versions))
        runs: dict[str, list[tuple[float, float, int]]] = {"no-ui": [], "check": []}
        for _ in range(args.repeat):
            runs["no-ui"].append(timed(["--check", "--no-ui", str(root)]))
            runs["check"].append(timed(["--check", str(root)]))
        wall = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
        cpu = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
        codes = {r[2] for v in runs.values() for r in v}
        failed |= codes != {0}
        print(f"{n:,} versions (the app pass draws {drawn} of them):")
        print(f"  --check --no-ui (floor)  wall {wall['no-ui']:6.2f} s  cpu {cpu['no-ui']:6.2f} s")
        print(
            f"  --check                  wall {wall['check']:6.2f} s  cpu {cpu['check']:6.2f} s"
            f"  = {wall['check'] / wall['no-ui']:.2f}x wall, {cpu['check'] / cpu['no-ui']:.2f}x cpu"
            "  (target < 3x at 10,000)"
        )
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
