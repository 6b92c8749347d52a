"""Typed accessors for untrusted JSON values: wrong types read as "unknown", never crash."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

_TUTORIAL_STAMP = re.compile(r"(\d{8}_\d{6})")


def as_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_float(value: object) -> float | None:
    """A finite or non-finite number; NaN is kept (a NaN loss is a fact to report)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_str_tuple(value: object) -> tuple[str, ...]:
    """A list of strings (non-strings dropped), or a comma-separated string."""
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, list | tuple):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def as_str_map(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items() if isinstance(v, str | int | float)}


def parse_time(value: object) -> float | None:
    """POSIX seconds from an ISO 8601 string, a tutorial `YYYYmmdd_HHMMSS`, or a number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) if math.isfinite(value) and value > 0 else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        pass
    match = _TUTORIAL_STAMP.search(value)
    if match:
        try:
            return datetime.strptime(match[1], "%Y%m%d_%H%M%S").timestamp()
        except ValueError:
            return None
    return None


def first(mapping: Mapping[str, Any], *keys: str) -> Any:
    """The value of the first key present in `mapping` (None when none is)."""
    for key in keys:
        if key in mapping and mapping[key] is not None:
            return mapping[key]
    return None


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"a": {"b": 1}}` → `{"a.b": 1}`; lists stay values."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}{key}"
        if isinstance(item, Mapping) and item:
            flat.update(flatten(item, f"{name}."))
        else:
            flat[name] = item
    return flat
