"""How users name versions: one resolver for every command and the app.

A version is named by its id with or without `v_` (the tutorial's folder is `v_<stamp>`,
its id `<stamp>`), optionally followed by `:checkpoint-N` or `:N` for one of its
checkpoints. Aliases (`prod`, `staging`) come in as a mapping from alias to such a name;
they are resolved first, so an alias can never be shadowed by a version id that looks
like it.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .model import Checkpoint, Version

PREFIX = "v_"
METADATA_PREFIX = "metadata_"
METADATA_SUFFIX = ".json"


def metadata_name(version_id: str) -> str:
    """The metadata file name of `version_id`: `metadata_<id>.json` (the tutorial's)."""
    return f"{METADATA_PREFIX}{version_id}{METADATA_SUFFIX}"


def id_from_metadata_name(file_name: str) -> str | None:
    """The version id a `metadata_<id>.json` file name gives, or None for other files."""
    if file_name.startswith(METADATA_PREFIX) and file_name.endswith(METADATA_SUFFIX):
        return file_name[len(METADATA_PREFIX) : -len(METADATA_SUFFIX)]
    return None


def folder_name(version_id: str) -> str:
    """The folder name the tutorial's naming gives `version_id`: `v_<id>`.

    An id that already starts with `v_` is what ftui wrote before it took the tutorial's
    naming (`metadata_v_<stamp>.json` beside `v_<stamp>/`): its folder is the id itself.
    """
    return version_id if version_id.startswith(PREFIX) else PREFIX + version_id


def folder_candidates(version_id: str) -> tuple[str, ...]:
    """Folder names that may hold `version_id`'s weights, best first: `v_<id>`, then
    `<id>` itself (a folder named exactly like the metadata's id)."""
    return tuple(dict.fromkeys((folder_name(version_id), version_id)))


def pick_folder(version_id: str, present: Collection[str]) -> str:
    """The folder name of `version_id` among the names `present` in its root (the first
    candidate present, else `v_<id>`): one rule for the scanner and every writer."""
    for candidate in folder_candidates(version_id):
        if candidate in present:
            return candidate
    return folder_name(version_id)


def version_folder(root: Path, version_id: str) -> Path:
    """The folder of `version_id` under `root`: `v_<id>` (or `<id>`, whichever exists),
    or `root` itself when it is a Trainer output folder read as one version."""
    present = [c for c in folder_candidates(version_id) if os.path.lexists(root / c)]
    if not present and root.name == version_id and root.is_dir():
        return root
    return root / pick_folder(version_id, present)


def metadata_file(root: Path, version_id: str) -> Path:
    """Where the metadata of `version_id` lives: `<root>/metadata_<id>.json`."""
    return root / metadata_name(version_id)


class UnknownVersion(LookupError):
    """A name that names no version (or no checkpoint of it); the message is one line."""


def bare_id(name: str) -> str:
    """`name` without the tutorial's `v_` folder prefix."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def name_variants(name: str) -> tuple[str, ...]:
    """Every spelling that means the same version as `name` (itself first)."""
    bare = bare_id(name)
    return tuple(dict.fromkeys((name, bare, PREFIX + bare)))


def split_checkpoint(name: str) -> tuple[str, str | None]:
    """`ID:checkpoint-N` or `ID:N` → (`ID`, `checkpoint-N`); a plain name → (name, None)."""
    version_name, sep, checkpoint = name.partition(":")
    if not sep:
        return name.strip(), None
    step = checkpoint.strip().removeprefix("checkpoint-")
    return version_name.strip(), f"checkpoint-{step}"


def find_version(versions: Iterable[Version], name: str) -> Version | None:
    """The version `name` means (exact id first, then the other spelling), or None."""
    by_id: dict[str, Version] = {}
    for version in versions:
        by_id.setdefault(version.id, version)
    for variant in name_variants(name.strip()):
        if variant in by_id:
            return by_id[variant]
    return None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a user's name points at: a version, and maybe one of its checkpoints."""

    version: Version
    checkpoint: Checkpoint | None = None
    alias: str | None = None  # the alias the name went through, if any

    @property
    def label(self) -> str:
        """`ID` or `ID:checkpoint-N`, for messages."""
        if self.checkpoint is None:
            return self.version.id
        return f"{self.version.id}:{self.checkpoint.name}"


def resolve_version(
    versions: Iterable[Version],
    name: str,
    aliases: Mapping[str, str] | None = None,
) -> Resolved:
    """Resolve `name` (alias, `ID`, `v_ID`, `ID:checkpoint-N`, `ID:N`) or raise
    `UnknownVersion` with a one-line message that lists what does exist."""
    versions = list(versions)
    alias = None
    target = name.strip()
    if aliases and target in aliases:
        alias, target = target, aliases[target]
    version_name, checkpoint_name = split_checkpoint(target)
    version = find_version(versions, version_name)
    if version is None:
        known = ", ".join(v.id for v in versions[:8]) or "none"
        more = f" and {len(versions) - 8} more" if len(versions) > 8 else ""
        via = f" (alias {alias!r})" if alias else ""
        raise UnknownVersion(f"no version {version_name!r}{via} (versions: {known}{more})")
    if checkpoint_name is None:
        return Resolved(version, None, alias)
    checkpoint = version.checkpoint(checkpoint_name)
    if checkpoint is None:
        known = ", ".join(c.name for c in version.checkpoints) or "none"
        raise UnknownVersion(f"{version.id} has no {checkpoint_name} (checkpoints: {known})")
    return Resolved(version, checkpoint, alias)
