"""What the small subcommands share: `--root`, one-line errors, naming versions.

Exit codes: 0 ok, 1 damaged or failed, 2 usage or unusable input. Errors are one line
on stderr, `error: …`, printed once (`CommandError` carries the code).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ftui.store.text import one_line

DEFAULT_ROOT = "model_versions"
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """Ends a subcommand with `error: <message>` on stderr and `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def add_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", default=None, metavar="DIR",
                        help=f"folder of versions (default: ./{DEFAULT_ROOT})")  # fmt: skip


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def root_of(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "root", None) or DEFAULT_ROOT)


def load(root: Path) -> tuple[list[Any], dict[str, str]]:
    """Every version under `root` (with aliases attached) and the alias map."""
    from ftui.store import RootError, scan
    from ftui.store.aliases import AliasError, read_aliases

    try:
        versions = scan(root)
    except RootError as exc:
        raise CommandError(str(exc)) from None
    try:
        aliases = read_aliases(root)
    except AliasError as exc:
        raise CommandError(f"{root}: {exc}", EXIT_FAILED) from None
    return versions, aliases


def resolve(versions: list[Any], aliases: dict[str, str], name: str) -> Any:
    """`Resolved` for a user's name (alias, id with or without v_, ID:checkpoint-N)."""
    from ftui.store.naming import UnknownVersion, resolve_version

    try:
        return resolve_version(versions, name, aliases=aliases)
    except UnknownVersion as exc:
        raise CommandError(str(exc)) from None


def finite(value: Any) -> Any:
    """JSON has no NaN or Infinity: those become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def print_json(value: Any) -> None:
    print(json.dumps(finite(value), indent=2, ensure_ascii=False))


def fail(message: str) -> None:
    print(f"error: {one_line(message, 600)}", file=sys.stderr)


def run(handler: Any, args: argparse.Namespace) -> int:
    """Call `handler(args)`, turning `CommandError` into its one line and exit code."""
    try:
        return int(handler(args))
    except CommandError as exc:
        fail(str(exc))
        return exc.code
