"""Where the built-in assets live and how `ftui:` references resolve to them.

`ftui:tiny-gpt2` (the offline base model) and `ftui:demo_data/train.jsonl` (the demo
dataset) are references, not paths, so a spec recorded on one machine stays valid on
another: the engine resolves them to this package's folder at run time.
"""

from __future__ import annotations

import re
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
REF_PREFIX = "ftui:"
BUILTIN_MODEL = "ftui:tiny-gpt2"
DEMO_TRAIN = "ftui:demo_data/train.jsonl"
DEMO_EVAL = "ftui:demo_data/eval.jsonl"

# `gpt2`, `org/name`, `org/name-1.5B`: what the Hub accepts as a repository id.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_ref(value: str) -> bool:
    return value.startswith(REF_PREFIX)


def resolve_ref(value: str) -> Path:
    """The asset path an `ftui:` reference names (it may not exist)."""
    relative = value[len(REF_PREFIX) :].strip("/")
    path = (ASSETS / relative).resolve()
    if ASSETS not in path.parents and path != ASSETS:
        return ASSETS / "__outside__"  # `ftui:../x` never escapes the assets folder
    return path


def looks_like_hub_id(value: str) -> bool:
    """True for `gpt2` or `org/name`; False for anything path-like (`./x`, `/x`, `~/x`)."""
    return bool(_HUB_ID.match(value)) and ".." not in value


def local_path(value: str) -> Path | None:
    """The local path `value` names, if it names one that exists (references resolved)."""
    if is_ref(value):
        path = resolve_ref(value)
        return path if path.exists() else None
    path = Path(value).expanduser()
    return path.resolve() if path.exists() else None
