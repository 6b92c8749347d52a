"""`ftui prune [DIR|VERSION…]`: free disk space, keeping what matters.

Shows what would go and how many bytes are freed; `--yes` acts. The rules of
`ftui.store.prune` always hold: the final adapter, the best checkpoint, running, queued,
aliased and pinned versions and aliased checkpoints are never touched; links are never
followed. Exit codes: 0 done (or previewed), 1 something could not be removed, 2 usage.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ftui.store.disk import human_size
from ftui.store.prune import PruneOptions, PrunePlan, execute, plan_prune
from ftui.store.text import one_line

from .common import (
    EXIT_FAILED,
    CommandError,
    add_json,
    add_root,
    fail,
    load,
    print_json,
    resolve,
    root_of,
    run,
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftui prune",
        description="Delete checkpoints and optimizer state you no longer need. Shows a "
        "preview; --yes deletes. Never touches final adapters, the best checkpoint, running, "
        "aliased or pinned (tag: pinned) versions.",
    )
    p.add_argument("targets", nargs="*", metavar="DIR|VERSION",
                   help="a root folder, then versions or aliases (default: all)")  # fmt: skip
    add_root(p)
    p.add_argument("--keep-best", type=int, metavar="N",
                   help="keep the N checkpoints of lowest eval (else train) loss")  # fmt: skip
    p.add_argument("--keep-last", type=int, metavar="N",
                   help="keep the N latest checkpoints (default 1 with --keep-best)")  # fmt: skip
    p.add_argument("--drop-optimizer-state", action="store_true",
                   help="remove optimizer/scheduler/RNG state of kept checkpoints, except "
                        "the last one's (resume needs it)")  # fmt: skip
    p.add_argument("--all", action="store_true",
                   help="with --drop-optimizer-state: the last checkpoint's state too")  # fmt: skip
    p.add_argument("--yes", "-y", action="store_true", help="delete (default: preview only)")
    add_json(p)
    return p


def _options(args: argparse.Namespace) -> PruneOptions:
    for flag in ("keep_best", "keep_last"):
        value = getattr(args, flag)
        if value is not None and value < 0:
            raise CommandError(f"--{flag.replace('_', '-')} must be 0 or more")
    if args.keep_best == 0:
        raise CommandError("--keep-best 0 would delete the best checkpoint: give 1 or more")
    if args.all and not args.drop_optimizer_state:
        raise CommandError("--all goes with --drop-optimizer-state")
    options = PruneOptions(args.keep_best, args.keep_last, args.drop_optimizer_state, args.all)
    if not options.does_something:
        raise CommandError(
            "say what to prune: --keep-best N, --keep-last N and/or --drop-optimizer-state"
        )
    return options


def preview_lines(plan: PrunePlan, root: Path) -> list[str]:
    lines: list[str] = []
    for vp in plan.versions:
        name = one_line(vp.version.id, 80)
        if vp.skipped is not None:
            lines.append(f"{name}: skipped, {one_line(vp.skipped, 200)}")
            continue
        if not vp.freed:
            lines.append(f"{name}: nothing to remove")
            continue
        lines.append(f"{name}: frees {human_size(vp.freed)}")
        if vp.leftovers:
            lines.append(f"  remove  leftovers of an interrupted prune  {human_size(vp.leftovers)}")
        for r in vp.removals:
            lines.append(f"  remove  {one_line(r.label, 100)}  {human_size(r.bytes)}  ({r.reason})")
        for checkpoint, why in vp.kept.items():
            lines.append(f"  keep    {one_line(checkpoint, 60)}  ({one_line(why, 120)})")
    touched = sum(1 for vp in plan.versions if vp.freed)
    lines.append(
        f"{'Frees' if plan.freed else 'Nothing to free:'} {human_size(plan.freed)} "
        f"({plan.freed} bytes) in {touched} of {len(plan.versions)} versions "
        f"under {one_line(str(root), 200)}"
    )
    return lines


def _split_targets(args: argparse.Namespace) -> tuple[Path, list[str]]:
    targets = list(args.targets)
    if args.root is None and targets and os.path.isdir(targets[0]):
        return Path(targets[0]), targets[1:]
    return root_of(args), targets


def run_prune(args: argparse.Namespace) -> int:
    options = _options(args)
    root, names = _split_targets(args)
    versions, aliases = load(root)
    named_by_alias: set[str] = set()
    if names:
        chosen = []
        for name in names:
            resolved = resolve(versions, aliases, name)
            if resolved.checkpoint is not None:
                raise CommandError(f"{name}: prune takes versions, not one checkpoint")
            if resolved.alias is not None:
                named_by_alias.add(resolved.version.id)
            if resolved.version not in chosen:
                chosen.append(resolved.version)
        versions = chosen
    plan = plan_prune(versions, options, named_by_alias)
    refused = [vp for vp in plan.versions if names and vp.skipped and "symbolic link" in vp.skipped]
    if not args.yes:
        if args.json:
            print_json({"root": str(root), "preview": True, **plan.as_json()})
        else:
            print("\n".join(preview_lines(plan, root)))
            if plan.freed:
                print("Preview only: run again with --yes to delete.")
        for vp in refused:
            fail(f"{vp.version.id}: {vp.skipped}")
        return EXIT_FAILED if refused else 0
    result = execute(plan, root)
    if args.json:
        print_json({"root": str(root), "preview": False, **plan.as_json(),
                    "freed": result.freed, "errors": result.errors})  # fmt: skip
    else:
        lines = preview_lines(plan, root)[:-1]
        print("\n".join(lines))
        print(f"Freed {human_size(result.freed)} ({result.freed} bytes).")
    for error in result.errors:
        fail(error)
    for vp in refused:
        fail(f"{vp.version.id}: {vp.skipped}")
    return EXIT_FAILED if result.errors or refused else 0


def main(argv: list[str]) -> int:
    return run(run_prune, parser().parse_args(argv[1:]))
