"""Benchmarks of the app: first paint, compare of large adapters, import boundary.

    python bench/bench_app.py [--n 10000] [--cache DIR] [--repeat 5]

1. First paint: process start to the first frame with tree rows, in a real pty (the
   `ftui` command, 80x24), for sample_runs/ and for 1,000 and N synthetic versions; the
   floor, launched in the same way and interleaved with them, is an empty Textual app
   (one line of text) reaching its first frame. Target: within 1.5x of the floor at any N.
   Also: launch until all N rows are listed.
2. Open compare on two ~100 MB adapters: the app reads safetensors headers only. The
   baseline, measured in the same run, is loading the tensors to get their shapes.
3. The app never imports torch/transformers/peft/trl before a run: checked after a
   headless pass over the folder, and the import time of the app module.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "support"))  # synth: test-data generators
ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Za-z0-9]|\x1b[=>78]"
)
HF_STACK = ("torch", "transformers", "peft", "trl")
ROW = b" r8/a16 "  # on screen: a tree row (r/alpha after the id), not the status line


EMPTY_APP = """
from textual.app import App
from textual.widgets import Static

class Empty(App):
    def compose(self):
        yield Static("empty app ready")

    def on_key(self, event):
        self.exit()

Empty().run()
"""


def ftui_command() -> str:
    return shutil.which("ftui", path=str(Path(sys.executable).parent)) or "ftui"


def pty_times(
    command: list[str], first: bytes, full: bytes | None = None, timeout: float = 120.0
) -> tuple[float, float]:
    """Seconds from spawning `command` to `first` on screen, and to `full` on screen
    (with no "scanning" after it; `full` None: the same as `first`)."""
    import pexpect

    # Bytecode caching on, as for a user (this sandbox sets PYTHONDONTWRITEBYTECODE, which
    # would recompile ftui on every launch); runs are medians, so the first one warms it.
    env = {**os.environ, "TERM": "xterm-256color"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    child = pexpect.spawn(command[0], command[1:], env=env, dimensions=(24, 80), timeout=timeout)
    raw = b""
    t_first = t_full = None
    cpu = 0.0
    try:
        while time.perf_counter() - started < timeout and (t_full is None or t_first is None):
            try:
                chunk = child.read_nonblocking(1 << 20, timeout=0.002)
            except pexpect.TIMEOUT:
                continue
            raw += chunk
            seen = ANSI.sub(b"", raw)
            now = time.perf_counter() - started
            if t_first is None and first in seen:
                t_first = now
                cpu = main_thread_cpu(child.pid)
            if full is None:
                t_full = t_first
                continue
            end = seen.rfind(full) + len(full)
            if t_full is None and end >= len(full) and b"scanning" not in seen[end : end + 12]:
                t_full = now
        child.send("q")
        child.expect(pexpect.EOF, timeout=30)
    finally:
        if child.isalive():
            child.terminate(force=True)
    if t_first is None or t_full is None:
        tail = ANSI.sub(b"", raw)[-1500:].decode(errors="replace")
        raise RuntimeError(f"{command}: the first frame never appeared; last output:\n{tail}")
    LAST_CPU[0] = cpu
    return t_first, t_full


LAST_CPU = [0.0]  # main-thread CPU seconds of the last `pty_times` child at its first frame


def main_thread_cpu(pid: int) -> float:
    """CPU seconds the process's main thread has run (Linux; 0.0 elsewhere): steadier
    than wall time on a shared machine, and blind to the threads that start after the
    first frame."""
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


def first_paint(roots: dict[str, Path], repeat: int) -> dict[str, list[float]]:
    """First-paint seconds of the empty app ("floor") and of `ftui ROOT` for each root,
    launched in turn `repeat` times so that the machine's drift hits all of them alike."""
    times: dict[str, list[float]] = {"floor": [], **{name: [] for name in roots}}
    for _ in range(repeat + 1):  # the first round warms the bytecode and disk caches
        times["floor"].append(pty_times([sys.executable, "-c", EMPTY_APP], b"empty app ready")[0])
        CPU.setdefault("floor", []).append(LAST_CPU[0])
        for name, root in roots.items():
            # a tree row: id, then r/alpha (every third synthetic version is r=8)
            times[name].append(pty_times([ftui_command(), str(root)], ROW)[0])
            CPU.setdefault(name, []).append(LAST_CPU[0])
    for runs in CPU.values():
        del runs[0]
    return {name: runs[1:] for name, runs in times.items()}


CPU: dict[str, list[float]] = {}  # main-thread CPU seconds at the first frame, per launch


def python_startup() -> float:
    """A bare Python interpreter start and exit, in the same conditions."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def make_synthetic(root: Path, n: int) -> Path:
    from synth import write_many

    marker = root / f".complete-{n}-tutorial-naming"
    if marker.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    print(f"writing {n} synthetic versions to {root} …", flush=True)
    write_many(root, n)
    marker.write_text("")
    return root


def make_big_pair(root: Path) -> tuple[Path, int]:
    """Two versions with ~100 MB adapters (r=256 / 128 on 4096-wide layers)."""
    from safetensors.numpy import save_file
    from synth import lora_tensors, write_version

    if (root / ".complete").exists():
        return root, sum(p.stat().st_size for p in root.rglob("adapter_model.safetensors"))
    shutil.rmtree(root, ignore_errors=True)
    for index, r in enumerate((256, 128)):
        folder = write_version(root, f"2026010{index + 1}_000000", r=r, alpha=2 * r, seed=index)
        tensors = lora_tensors(r, layers=4 if r == 256 else 8, hidden=4096, seed=index)
        save_file(tensors, str(folder / "adapter_model.safetensors"))
        config = (folder / "adapter_config.json").read_text().replace('"r": 8', f'"r": {r}')
        (folder / "adapter_config.json").write_text(config)
    (root / ".complete").write_text("")
    return root, sum(p.stat().st_size for p in root.rglob("adapter_model.safetensors"))


async def app_compare_time(root: Path) -> tuple[float, float, str]:
    """Headless app: seconds from the compare action (`c` on a marked pair) until the
    shapes are loaded and the whole screen has been drawn once, and until the update
    norms (which read the tensors) are shown too."""
    from ftui.app.main import FtuiApp
    from ftui.app.screens.compare import CompareScreen
    from ftui.app.textdump import screen_text

    app = FtuiApp(root, poll_interval=0)
    async with app.run_test(size=(120, 40)) as pilot:
        browser = app.browser
        while not browser.scan_complete:
            await pilot.pause(0.01)
        keys = [k for k in browser.version_tree.nodes_by_key if k[1] is None][:2]
        browser.marked = keys
        await pilot.pause(0.3)
        times, update_times = [], []
        for _ in range(5):
            started = time.perf_counter()
            browser.action_compare()
            while not (isinstance(app.screen, CompareScreen) and app.screen.data is not None):
                await asyncio.sleep(0.0005)
            screen_text(app)
            times.append(time.perf_counter() - started)
            screen = app.screen
            while screen.updates is None:
                await asyncio.sleep(0.0005)
            screen_text(app)
            update_times.append(time.perf_counter() - started)
            summary = screen.data.comparison.summary()
            app.pop_screen()
            await pilot.pause(0.05)
        return statistics.median(times), statistics.median(update_times), summary


def store_compare_time(root: Path, repeat: int = 20) -> float:
    """Headers only: scan-free `read_adapter` of both files + the diff, median seconds."""
    from ftui.store import compare, scan, side_for
    from ftui.store.safetensors_header import read_adapter

    a, b = scan(root)[:2]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        read_adapter(a.path / "adapter_model.safetensors")
        read_adapter(b.path / "adapter_model.safetensors")
        compare(side_for(a), side_for(b))
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tensor_load_time(root: Path) -> float:
    """Baseline: what reading shapes by loading the tensors costs (safetensors.numpy)."""
    from safetensors.numpy import load_file

    started = time.perf_counter()
    for path in sorted(root.rglob("adapter_model.safetensors")):
        shapes = {k: v.shape for k, v in load_file(str(path)).items()}
        assert shapes
    return time.perf_counter() - started


def import_check(root: Path) -> tuple[list[str], float]:
    code = (
        "import sys, time, pathlib\n"
        "t = time.perf_counter()\n"
        "import ftui.app.main\n"
        "t = time.perf_counter() - t\n"
        "from ftui.app.headless import run_headless_check\n"
        f"problems = run_headless_check(pathlib.Path({str(root)!r}))\n"
        f"print(t, [m for m in {HF_STACK!r} if m in sys.modules], problems)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rest = out.stdout.strip().split(" ", 1)
    loaded = eval(rest.split("] ", 1)[0] + "]")  # noqa: S307 - our own output
    return loaded, float(seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="synthetic versions (10000)")
    parser.add_argument(
        "--cache", type=Path, default=None, help="keep generated folders here between runs"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--paint-only", action="store_true", help="only the first-paint part")
    args = parser.parse_args()
    cache = args.cache or Path(tempfile.mkdtemp(prefix="ftui-bench-"))
    cache.mkdir(parents=True, exist_ok=True)

    print(f"== first paint (real pty, 80x24, medians of {args.repeat} interleaved launches)")
    baseline = statistics.median(python_startup() for _ in range(args.repeat))
    print(f"bare python start+exit                       {baseline * 1000:7.0f} ms")
    roots = {"sample_runs (3 versions)": REPO / "sample_runs"}
    for n in sorted({1000, args.n}):
        roots[f"{n:,} versions"] = make_synthetic(cache / f"synth{n}", n)
    times = first_paint(roots, args.repeat)
    floor = statistics.median(times["floor"])
    floor_cpu = statistics.median(CPU["floor"])
    print(
        f"floor: empty Textual app, first frame        {floor * 1000:7.0f} ms"
        f"  (main thread cpu {floor_cpu * 1000:.0f} ms)"
    )
    for name in roots:
        seconds, cpu = statistics.median(times[name]), statistics.median(CPU[name])
        print(
            f"{name + ': first tree rows':44s} {seconds * 1000:7.0f} ms"
            f"  {seconds / floor:.2f}x floor  (target < 1.5x)"
            f"  cpu {cpu * 1000:.0f} ms = {cpu / floor_cpu:.2f}x"
        )
    synth = roots[f"{args.n:,} versions"]
    full = statistics.median(
        pty_times([ftui_command(), str(synth)], ROW, f"{args.n} versions".encode())[1]
        for _ in range(args.repeat)
    )
    print(f"{args.n:,} versions: all rows listed          {full * 1000:7.0f} ms")
    if args.paint_only:
        return 0

    print("== compare of two large adapters")
    big, size = make_big_pair(cache / "big")
    print(f"adapters: {size / 2**20:.0f} MB in all")
    headers = store_compare_time(big)
    loading = tensor_load_time(big)
    print(f"store: read both headers + diff            {headers * 1000:7.1f} ms  target < 50 ms")
    print(
        f"baseline: load the tensors for shapes      {loading * 1000:7.1f} ms"
        f"  ({loading / headers:.0f}x slower)"
    )
    seconds, update_seconds, summary = asyncio.run(app_compare_time(big))
    print(f"app: compare action to shapes drawn        {seconds * 1000:7.1f} ms  ({summary})")
    print(f"app: ... to update norms drawn (reads data) {update_seconds * 1000:6.1f} ms")

    print("== import boundary")
    loaded, seconds = import_check(REPO / "sample_runs")
    print(f"import ftui.app.main                       {seconds * 1000:7.0f} ms")
    print(f"HF stack loaded after a headless app pass: {loaded or 'none'}")
    if args.cache is None:
        shutil.rmtree(cache, ignore_errors=True)
    return 1 if loaded else 0


if __name__ == "__main__":
    sys.exit(main())
