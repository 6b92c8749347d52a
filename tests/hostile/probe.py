"""What the hostile tests run in a child process (so a hang is a timeout, not a stuck
suite, and memory can be capped): `python probe.py ACTION ARGS…`; prints one JSON line.

Actions:
  plan ROOT ID [CHECKPOINT]       removal_plan with the root: paths and size, or refused
  delete ROOT ID [CHECKPOINT]     delete with the root
  details ROOT ID                 the details worker's reading of a version
  follow FOLDER SECONDS [MB]      follow_events for SECONDS under an address-space cap
  tags ROOT ID                    set_tags on the version's metadata
  forest N                        build_forest over N chained versions
  updates ROOT A B MB             update norms of two versions (reads tensor data) under
                                  an address-space cap of MB (0: with short preads)
  notes ROOT ID                   the notes cell of the details pane, as text
  app ROOT each|last KEYS…        the app, headless: select each row (or the last) in
                                  turn, press KEYS on it (e.g. `d y`), report the screens
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import threading
import time
from pathlib import Path


def out(**values: object) -> None:
    print(json.dumps(values, default=str))


def peak_rss_kb() -> int:
    """This process's own peak resident memory (VmHWM). `ru_maxrss` would not do: Linux
    carries it across exec, so a child of a large pytest starts at the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def find(root: Path, version_id: str):  # type: ignore[no-untyped-def]
    from ftui.store import scan

    for version in scan(root):
        if version.id == version_id:
            return version
    raise SystemExit(f"no version {version_id!r}")


def plan(root: Path, version_id: str, checkpoint: str | None = None, act: bool = False) -> None:
    from ftui.store import disk

    refused = getattr(disk, "Refused", ())  # absent before issue 10: nothing was refused

    version = find(root, version_id)
    ckpt = version.checkpoint(checkpoint) if checkpoint else None
    if checkpoint and ckpt is None:
        ckpt_path = version.path / checkpoint
        from ftui.store import Checkpoint

        ckpt = Checkpoint(checkpoint, ckpt_path, int(checkpoint.split("-")[1]))
    kwargs = {"root": root} if refused else {}
    try:
        if act:
            out(freed=disk.delete(version, ckpt, **kwargs))
        else:
            paths, size = disk.removal_plan(version, ckpt, **kwargs)
            out(paths=[str(p) for p in paths], size=size)
    except refused as exc:
        out(refused=str(exc))


def details(root: Path, version_id: str) -> None:
    from ftui.app.loading import load_details
    from ftui.app.selection import Selection

    data = load_details(Selection(find(root, version_id)))
    out(files=len(data.files), total=data.total_size, problems=data.problems)


def follow(folder: Path, seconds: float, megabytes: int = 0) -> None:
    if megabytes:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from ftui.app.run_state import follow_events

    stop = threading.Event()
    threading.Timer(seconds, stop.set).start()
    count = 0
    try:
        for events in follow_events(folder, stop):
            count += len(events)
    except Exception as exc:
        stop.set()
        out(error=f"{type(exc).__name__}: {exc}", events=count)
        return
    stop.set()
    out(events=count, max_rss_kb=peak_rss_kb())


def tags(root: Path, version_id: str) -> None:
    from ftui.store import WriteError, set_tags

    try:
        set_tags(root / f"metadata_{version_id}.json", ["b"])
        out(written=True)
    except WriteError as exc:
        out(refused=str(exc))


def forest(count: int) -> None:
    from ftui.app.selection import build_forest
    from ftui.store import Layout, Parent, Status, Version

    versions = [
        Version(
            f"v{i}",
            Path(f"v{i}"),
            None,
            Layout.FTUI,
            Status.COMPLETED,
            parent=Parent(f"v{i - 1}") if i else None,
        )  # fmt: skip
        for i in range(count)
    ]
    versions.append(Version("loop", Path("loop"), None, Layout.FTUI, Status.COMPLETED,
                            parent=Parent("loop")))  # fmt: skip
    started = time.perf_counter()
    roots, children = build_forest(versions)
    out(roots=[v.id for v in roots], nested=sum(len(c) for c in children.values()),
        seconds=time.perf_counter() - started)  # fmt: skip


def updates(root: Path, a: str, b: str, megabytes: int) -> None:
    """`megabytes` 0: no cap, but every pread returns at most 1 KiB (as one returns at
    most ~2 GiB on Linux), to show that reads loop."""
    if megabytes:
        limit = megabytes * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    else:
        import os

        real = os.pread
        os.pread = lambda fd, n, offset: real(fd, min(n, 1024), offset)  # type: ignore[assignment]
    from ftui.store.lora_math import update_stats

    va, vb = find(root, a), find(root, b)
    try:
        stats = update_stats(va.adapter, va.adapter_config, vb.adapter, vb.adapter_config)
        result: object = [[s.module, s.norm_a, s.norm_b] for s in stats]
    except Exception as exc:
        result = f"{type(exc).__name__}: {exc}"
    out(stats=result, max_rss_kb=peak_rss_kb())


def notes(root: Path, version_id: str) -> None:
    from ftui.app.widgets.details import summary_rows

    cell = dict(summary_rows(find(root, version_id)))["notes"]
    text = str(cell)
    out(length=len(text), tail=text[-300:])


async def app(root: Path, mode: str, keys: list[str]) -> None:
    from ftui.app.main import FtuiApp
    from ftui.app.textdump import screen_text

    ftui = FtuiApp(root, poll_interval=0)
    errors: list[str] = []
    original = ftui.notify

    def notify(message: str, **kwargs: object) -> None:
        errors.append(message)
        original(message, **kwargs)  # type: ignore[arg-type]

    ftui.notify = notify  # type: ignore[method-assign]
    screens: list[str] = []
    async with ftui.run_test(size=(100, 30)) as pilot:

        async def settle() -> None:
            for _ in range(3):
                for _ in range(1000):
                    if not any(w.is_running for w in ftui.workers):
                        break
                    await pilot.pause(0.01)
                await pilot.pause(0.05)

        await settle()
        browser = ftui.browser
        rows = [k for k in browser.version_tree.nodes_by_key]
        for key in rows if mode == "each" else rows[-1:]:
            browser.version_tree.select_key(key)
            await settle()
            for key_name in keys:
                await pilot.press(key_name)
                await settle()
            screens.append(screen_text(ftui))
            while len(ftui.screen_stack) > 2:  # close a dialog or run view left open
                ftui.pop_screen()
                await settle()
        rows_text = [str(k) for k in rows]
        await pilot.press("q")
    out(rows=rows_text, screens=screens, notices=errors, return_code=ftui.return_code)


def main(argv: list[str]) -> None:
    action, args = argv[0], argv[1:]
    if action in ("plan", "delete"):
        plan(Path(args[0]), args[1], args[2] if len(args) > 2 else None, act=action == "delete")
    elif action == "details":
        details(Path(args[0]), args[1])
    elif action == "follow":
        follow(Path(args[0]), float(args[1]), int(args[2]) if len(args) > 2 else 0)
    elif action == "tags":
        tags(Path(args[0]), args[1])
    elif action == "forest":
        forest(int(args[0]))
    elif action == "updates":
        updates(Path(args[0]), args[1], args[2], int(args[3]))
    elif action == "app":
        asyncio.run(app(Path(args[0]), args[1], args[2:]))
    elif action == "notes":
        notes(Path(args[0]), args[1])
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main(sys.argv[1:])
