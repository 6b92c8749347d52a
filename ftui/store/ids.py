"""The one rule for version ids, and what a metadata file with a bad id becomes.

A version id turns into paths (`<root>/<id>/`, `<root>/metadata_<id>.json`), and ids
read from file names are untrusted: `metadata_.json` would give `""` (the root itself),
`metadata_...json` would give `..` (the root's parent). So an id must be one non-empty
path component: no `.`/`..`, no separator, no control or bidi character, not too long.
"""

from __future__ import annotations

import re
from pathlib import Path

from .model import Layout, Problem, Status, Version

MAX_ID_BYTES = 200  # file names are at most 255 bytes; `metadata_<id>.json` adds 14

# C0/C1 controls, DEL, line/paragraph separators and the bidi controls (U+202A-202E,
# U+2066-2069, LRM/RLM/ALM): any of them makes a file name lie about itself on screen.
_FORBIDDEN = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)


def id_problem(version_id: str) -> str | None:
    """Why `version_id` cannot name a version, or None when it can."""
    if not version_id:
        return "it is empty"
    if version_id in (".", ".."):
        return f"{version_id!r} names a folder, not a version"
    if "/" in version_id or "\\" in version_id:
        return "it contains a path separator"
    if _FORBIDDEN.search(version_id):
        return "it contains a control character"
    if len(version_id.encode("utf-8", "surrogateescape")) > MAX_ID_BYTES:
        return f"it is longer than {MAX_ID_BYTES} bytes"
    return None


def is_valid_id(version_id: str) -> bool:
    """True when `version_id` is one safe path component (see `id_problem`)."""
    return id_problem(version_id) is None


def invalid_id_version(root: Path, version_id: str, metadata_name: str) -> Version:
    """A damaged, undeletable stand-in for a metadata file whose name gives a bad id.

    Nothing else is read for it: its "folder" would be the root, its parent or a path
    elsewhere. Its path is the metadata file itself, which is never walked into.
    """
    reason = id_problem(version_id) or "unusable"
    meta = root / metadata_name
    return Version(
        id=version_id,
        path=meta,
        metadata_path=meta,
        layout=Layout.TUTORIAL,
        status=Status.DAMAGED,
        problems=(
            Problem(
                metadata_name,
                f"the file name gives the version id {version_id[:60]!r}, which is not"
                f" usable ({reason}): not read, never deleted",
            ),
        ),
    )
