"""`ftui du [DIR]`: what each version holds on disk, by kind, and the root's total.

The total is what `du -sb DIR` reports (apparent sizes, links not followed, hard links
once). `--json` gives every figure in bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ftui.store.disk import human_size
from ftui.store.sizes import KIND_TITLES, KINDS, RootSizes, root_sizes
from ftui.store.text import one_line

from .common import add_json, add_root, load, print_json, root_of, run

COLUMNS = {"adapter": "adapter", "checkpoints": "ckpts", "state": "opt.state",
           "logs": "logs", "other": "other"}  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftui du",
        description="Disk use of every version: final adapter, checkpoints, "
        "optimizer/scheduler/RNG state, logs, other; and the root's total (as du -sb).",
    )
    p.add_argument("dir", nargs="?", default=None, metavar="DIR", help="same as --root")
    add_root(p)
    add_json(p)
    p.add_argument("--sort", choices=["size", "name", "time"], default="size",
                   help="row order (default: largest first)")  # fmt: skip
    p.add_argument("--bytes", action="store_true", help="exact byte counts, not 1.5 MB")
    return p


def table(sizes: RootSizes, order: list[str], exact: bool) -> list[str]:
    """The text table: one row per version, then the totals by kind and of the root."""

    def fmt(n: int) -> str:
        return str(n) if exact else human_size(n)

    width = max([len("version"), *(len(one_line(i, 40)) for i in order)])
    head = f"{'version':<{width}}" + "".join(f" {COLUMNS[k]:>9}" for k in KINDS)
    lines = [head + f" {'total':>9}"]
    for version_id in order:
        b = sizes.versions[version_id]
        cells = "".join(f" {fmt(getattr(b, k)):>9}" for k in KINDS)
        lines.append(f"{one_line(version_id, 40):<{width}}{cells} {fmt(b.total):>9}")
    kinds = sizes.by_kind()
    cells = "".join(f" {fmt(getattr(kinds, k)):>9}" for k in KINDS)
    lines.append(f"{'all':<{width}}{cells} {fmt(sizes.total):>9}")
    lines.append(
        f"{len(sizes.versions)} versions, {human_size(sizes.total)} ({sizes.total} bytes) "
        f"in {one_line(str(sizes.root), 200)}"
    )
    return lines


def run_du(args: argparse.Namespace) -> int:
    root = Path(args.dir) if args.dir is not None else root_of(args)
    versions, _ = load(root)
    sizes = root_sizes(root, versions)
    if args.sort == "size":
        order = sorted(sizes.versions, key=lambda i: (-sizes.versions[i].total, i))
    elif args.sort == "name":
        order = sorted(sizes.versions)
    else:
        order = [v.id for v in versions]  # scan order: newest first
    if args.json:
        print_json({
            "root": str(root), "total": sizes.total, "outside_versions": sizes.outside_versions,
            "by_kind": {k: getattr(sizes.by_kind(), k) for k in KINDS},
            "kinds": KIND_TITLES,
            "versions": [{"id": i, **sizes.versions[i].as_json()} for i in order],
        })  # fmt: skip
        return 0
    print("\n".join(table(sizes, order, args.bytes)))
    return 0


def main(argv: list[str]) -> int:
    return run(run_du, parser().parse_args(argv[1:]))
