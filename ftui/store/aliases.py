"""Aliases: unique names (`prod`, `staging`) that point at one version or checkpoint.

They live in one file in the root, `aliases.json`:

    {"schema_version": 1, "aliases": {"prod": "20260415_143022:checkpoint-66"}}

Every change is a read-modify-write under an exclusive lock on `.aliases.json.lock`,
finished by one atomic rename, so two shells moving aliases at once never lose an
update and a reader always sees a whole file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType

from .ids import id_problem
from .jsonio import ReadError, dumps, read_json_object, write_atomic
from .model import EMPTY, Version
from .naming import name_variants, split_checkpoint
from .writer import WriteError, locked_file

ALIASES_FILE = "aliases.json"
SCHEMA_VERSION = 1
MAX_ALIAS_LENGTH = 64
_ALIAS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


class AliasError(Exception):
    """An alias could not be read, set or removed; `str()` is a one-line reason."""


def aliases_path(root: Path) -> Path:
    return Path(root) / ALIASES_FILE


def alias_problem(name: str) -> str | None:
    """Why `name` cannot be an alias, or None. Letters, digits and `. _ + -`, starting
    with a letter or digit: no path separators, spaces, colons or control characters."""
    if not name:
        return "it is empty"
    general = id_problem(name)
    if general is not None:
        return general
    if ":" in name:
        return "it contains ':', which names a checkpoint"
    if len(name) > MAX_ALIAS_LENGTH:
        return f"it is longer than {MAX_ALIAS_LENGTH} characters"
    if not _ALIAS.match(name):
        return "use letters, digits and . _ + - only, starting with a letter or digit"
    return None


def read_aliases(root: Path) -> dict[str, str]:
    """The alias map of `root` (empty when there is no file). Entries that are not
    `name: "ID[:checkpoint-N]"` strings are skipped. Raises `AliasError` for a file
    that exists but cannot be read as an alias file."""
    try:
        record = read_json_object(aliases_path(root), limit=4 * 1024 * 1024)
    except ReadError as exc:
        if str(exc) == "missing":
            return {}
        raise AliasError(f"{ALIASES_FILE}: {exc}") from None
    raw = record.get("aliases", {})
    if not isinstance(raw, dict):
        raise AliasError(f"{ALIASES_FILE}: 'aliases' is not an object")
    return {
        name: target.strip()
        for name, target in raw.items()
        if isinstance(target, str) and target.strip() and alias_problem(name) is None
    }


def load_aliases(root: Path) -> dict[str, str]:
    """Like `read_aliases`, but a damaged file reads as no aliases (for scans and the
    app; `--check` and `ftui alias` report it)."""
    try:
        return read_aliases(root)
    except AliasError:
        return {}


def _change(root: Path, name: str, target: str | None) -> str | None:
    """Set (or with None remove) one alias under the lock; return its previous target."""
    path = aliases_path(root)
    try:
        with locked_file(path):
            current = read_aliases(root)
            previous = current.get(name)
            if target is None:
                if previous is None:
                    raise AliasError(f"no alias {name!r}")
                del current[name]
            else:
                current[name] = target
            record = {"schema_version": SCHEMA_VERSION, "aliases": dict(sorted(current.items()))}
            write_atomic(path, dumps(record))
    except WriteError as exc:
        raise AliasError(str(exc)) from None
    except OSError as exc:
        raise AliasError(f"{ALIASES_FILE}: cannot write ({exc.strerror or exc})") from None
    return previous


def set_alias(root: Path, name: str, target: str) -> str | None:
    """Point `name` at `target` (`ID` or `ID:checkpoint-N`, already checked to exist);
    returns what it pointed at before, if anything. Raises `AliasError`."""
    problem = alias_problem(name)
    if problem is not None:
        raise AliasError(f"{name!r} cannot be an alias: {problem}")
    return _change(root, name, target)


def remove_alias(root: Path, name: str) -> str:
    """Remove `name`; returns what it pointed at. Raises `AliasError`."""
    previous = _change(root, name, None)
    assert previous is not None
    return previous


def aliases_by_version(
    aliases: Mapping[str, str], versions: Iterable[Version]
) -> dict[str, dict[str, str | None]]:
    """version id -> {alias: checkpoint name or None} for every alias that names one."""
    spelled: dict[str, str] = {}
    for version in versions:
        for variant in name_variants(version.id):
            spelled.setdefault(variant, version.id)
    found: dict[str, dict[str, str | None]] = {}
    for alias, target in aliases.items():
        version_name, checkpoint = split_checkpoint(target)
        for variant in name_variants(version_name):
            if variant in spelled:
                found.setdefault(spelled[variant], {})[alias] = checkpoint
                break
    return found


def frozen_aliases(mapping: Mapping[str, str | None]) -> Mapping[str, str | None]:
    return MappingProxyType(dict(sorted(mapping.items()))) if mapping else EMPTY


def aliases_naming(version: Version, checkpoint: str | None = None) -> list[str]:
    """The aliases that point at `version` itself (checkpoint None) or at one checkpoint."""
    return [name for name, target in version.aliases.items() if target == checkpoint]


def expand_alias(root: Path, name: str) -> tuple[str, str | None]:
    """(version name, checkpoint or None) that `name` means when it is an alias of
    `root`, else `name` itself split at `:checkpoint-N`. For callers that take ids."""
    aliases = load_aliases(root)
    return split_checkpoint(aliases.get(name.strip(), name))
