"""`ftui alias`: list, set, move and remove aliases (`prod` -> a version or checkpoint).

ftui alias                          list every alias and what it points at
ftui alias NAME VERSION[:checkpoint-N]   set NAME, or move it (one atomic write)
ftui alias --rm NAME                remove NAME
"""

from __future__ import annotations

import argparse

from ftui.store.aliases import AliasError, alias_problem, remove_alias, set_alias
from ftui.store.naming import find_version, resolve_version
from ftui.store.text import one_line

from .common import CommandError, add_json, add_root, load, print_json, resolve, root_of, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftui alias",
        description="Unique names for versions or checkpoints (prod, staging…). "
        "Use them anywhere a version is named: ftui path prod, ftui retrain prod…",
    )
    p.add_argument("name", nargs="?", help="the alias (letters, digits, . _ + -)")
    p.add_argument("version", nargs="?", help="VERSION or VERSION:checkpoint-N (id with or "
                   "without v_, or another alias)")  # fmt: skip
    p.add_argument("--rm", action="store_true", help="remove the alias NAME")
    add_root(p)
    add_json(p)
    return p


def _listing(versions: list, aliases: dict[str, str]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, target in sorted(aliases.items()):
        try:
            resolved = resolve_version(versions, target)
            rows.append({"alias": name, "target": target, "version": resolved.version.id,
                         "checkpoint": resolved.checkpoint.name if resolved.checkpoint else None,
                         "path": str(resolved.checkpoint.path if resolved.checkpoint
                                     else resolved.version.path), "missing": False})  # fmt: skip
        except LookupError:
            rows.append({"alias": name, "target": target, "version": None,
                         "checkpoint": None, "path": None, "missing": True})  # fmt: skip
    return rows


def run_alias(args: argparse.Namespace) -> int:
    root = root_of(args)
    versions, aliases = load(root)
    if args.name is None:
        if args.rm or args.version:
            raise CommandError("usage: ftui alias [--rm] NAME [VERSION]")
        rows = _listing(versions, aliases)
        if args.json:
            print_json({"root": str(root), "aliases": rows})
        elif not rows:
            print(f"no aliases in {one_line(str(root), 200)}")
        for row in [] if args.json else rows:
            note = "  (missing: no such version)" if row["missing"] else ""
            print(f"{one_line(str(row['alias']), 64)} -> {one_line(str(row['target']), 200)}{note}")
        return 0
    name = args.name.strip()
    if args.rm:
        if args.version:
            raise CommandError("--rm takes only the alias NAME")
        try:
            previous = remove_alias(root, name)
        except AliasError as exc:
            raise CommandError(str(exc)) from None
        print(f"removed {one_line(name, 64)} (was {one_line(previous, 200)})")
        return 0
    if args.version is None:
        if name not in aliases:
            raise CommandError(f"no alias {name!r} (give a VERSION to set it)")
        print(one_line(aliases[name], 200))
        return 0
    problem = alias_problem(name)
    if problem is not None:
        raise CommandError(f"{name!r} cannot be an alias: {problem}")
    clash = find_version(versions, name)
    if clash is not None:
        raise CommandError(f"{name!r} is already the id of version {clash.id}: pick another name")
    resolved = resolve(versions, aliases, args.version)
    try:
        was = set_alias(root, name, resolved.label)
    except AliasError as exc:
        raise CommandError(str(exc)) from None
    moved = "" if was in (None, resolved.label) else f" (was {one_line(str(was), 200)})"
    print(f"{one_line(name, 64)} -> {one_line(resolved.label, 200)}{moved}")
    return 0


def main(argv: list[str]) -> int:
    return run(run_alias, parser().parse_args(argv[1:]))
