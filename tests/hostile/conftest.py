"""Fixtures for the hostile-folder suite: build a case, run ftui on it in a child process
under a timeout, and check on the way out that nothing outside the root changed.

`HOSTILE_FTUI_SRC=/path/to/another/checkout` runs the child processes on another tree's
`ftui` (e.g. main's, to see every case fail there).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SRC = os.environ.get("HOSTILE_FTUI_SRC", str(REPO))
sys.path.insert(0, str(HERE))  # --import-mode=importlib leaves sys.path alone

from make_hostile import CASES, ROOT_NAME  # noqa: E402

TIMEOUT_S = 60


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"}
    env["PYTHONPATH"] = SRC
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # fewer threads, less address space
    env.update(extra)
    return env


def run(args: list[str], timeout: float = TIMEOUT_S, **env: str) -> subprocess.CompletedProcess:
    """A child Python process; a hang fails the test with the timeout."""
    try:
        return subprocess.run(
            [sys.executable, *args], capture_output=True, text=True, timeout=timeout,
            env=child_env(**env), check=False, errors="replace",
            cwd=HERE,  # not the repository: `-m ftui.cli` must import SRC's ftui
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"timed out after {timeout} s: {' '.join(args[:4])}")


def cli(*args: str, timeout: float = TIMEOUT_S, **env: str) -> subprocess.CompletedProcess[str]:
    return run(["-m", "ftui.cli", *args], timeout, **env)


def probe(*args: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run an action of probe.py; its last stdout line as JSON."""
    proc = run([str(HERE / "probe.py"), *args], timeout)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, f"probe {args[0]} failed:\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1])


def snapshot(base: Path, root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry under `base` except inside `root`: type, size, link target, content
    hash of small files. Links are recorded, never followed."""
    seen: dict[str, tuple[object, ...]] = {}
    for folder, dirs, files in os.walk(base):
        here = Path(folder)
        if here == root:
            dirs.clear()  # the root's own contents may change; the root itself may not go
            continue
        for name in dirs + files:
            path = here / name
            st = os.lstat(path)
            entry: tuple[object, ...] = (stat.S_IFMT(st.st_mode), st.st_size)
            if stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(path),)
            elif stat.S_ISREG(st.st_mode) and st.st_size < 1 << 20:
                entry += (hashlib.sha256(path.read_bytes()).hexdigest(),)
            seen[str(path.relative_to(base))] = entry
    return seen


@pytest.fixture
def build(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """`build("bad_ids")` -> the case's root; afterwards, nothing outside it changed."""
    built: list[tuple[Path, Path, dict[str, tuple[object, ...]]]] = []

    def make(case: str) -> Path:
        base = tmp_path / case
        root = CASES[case](base)
        assert root == base / ROOT_NAME
        built.append((base, root, snapshot(base, root)))
        return root

    yield make
    for base, root, before in built:
        assert root.is_dir(), "the root itself was removed"
        after = snapshot(base, root)
        changed = sorted(set(before.items()) ^ set(after.items()))
        assert not changed, f"changed outside the root: {changed[:10]}"
