"""Which versions `ftui --check`'s app pass draws: one of each way of being drawn.

Drawing a version's screen (its tree row, details and loss plot) takes code paths that
depend on what the version has, not on its values: its status and layout, which fields
are there and of what kind, how long its texts are, how many modules, checkpoints,
problems or loss points it has, whether it has a parent. Versions alike in all of that
are drawn alike, so the pass draws the first version of each kind (`drawing_kind`),
and every version that is odd: damaged or warned about by the store's checks, or
holding text that is not plain (markup, escapes, control or non-ASCII characters),
numbers that are not finite, or structures deeper or larger than metadata usually is.
On 10,000 versions written by one tool that is a handful of screens instead of 10,000
(bench/bench_check.py); tests/app/test_check_plan.py shows the reduced pass finds what
the full one finds on the damaged and hostile fixtures.

No Textual here: plain functions over the store's objects, testable on their own.
"""

from __future__ import annotations

import bisect
import functools
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ftui.store.check import CheckedVersion
from ftui.store.lineage import parent_among
from ftui.store.model import Version

# Text that renders the same whatever its letters: printable ASCII without markup
# brackets or backslashes. Anything else makes its version odd (drawn on its own).
PLAIN = re.compile(r"[A-Za-z0-9 _.,:;/+=@%()'\"#&*!?<>~^$|`-]*")
MAX_DEPTH = 8  # deeper metadata is odd
MAX_ENTRIES = 1000  # a mapping or list larger than this is odd
# Bounds of the count buckets, around the limits the screens apply (50 problems,
# 200 modules or files, 500 metadata fields).
COUNT_BOUNDS = (0, 1, 2, 3, 10, 50, 200, 500)
LENGTH_BOUNDS = (0, 1, 9, 25, 61, 121, 401)  # text lengths, around where lines wrap


class Odd(Exception):
    """The version must be drawn on its own."""


def bucket(n: int, bounds: tuple[int, ...] = COUNT_BOUNDS) -> int:
    """The index of the last bound `n` reaches (0 below the first)."""
    return max(bisect.bisect_right(bounds, n) - 1, 0)


@functools.lru_cache(maxsize=4096)  # keys and common values repeat across versions
def text_kind(text: str) -> Hashable:
    if not PLAIN.fullmatch(text):
        raise Odd
    return ("str", bucket(len(text), LENGTH_BOUNDS))


@functools.lru_cache(maxsize=8192, typed=True)
def number_kind(value: int | float) -> Hashable:
    """`value_kind` of a plain int or float (cached: numbers repeat across versions)."""
    if isinstance(value, int):
        return ("int", bucket(len(str(value)), LENGTH_BOUNDS))
    if not math.isfinite(value):
        raise Odd
    return ("float", bucket(len(f"{value:g}"), LENGTH_BOUNDS))


def value_kind(value: Any, depth: int = 0) -> Hashable:
    """What a JSON value looks like to the screens: its shape, not its content."""
    if depth > MAX_DEPTH:
        raise Odd
    exact = type(value)  # JSON's own types first, without the isinstance chain
    if exact is str:
        return text_kind(value)
    if exact is int or exact is float:
        return number_kind(value)
    if value is None or isinstance(value, bool):
        return type(value).__name__
    if isinstance(value, int):
        return ("int", bucket(len(str(value)), LENGTH_BOUNDS))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Odd
        return ("float", bucket(len(f"{value:g}"), LENGTH_BOUNDS))
    if isinstance(value, str):
        return text_kind(value)
    if exact is dict or exact is MappingProxyType or isinstance(value, Mapping):
        if len(value) > MAX_ENTRIES:
            raise Odd
        children = frozenset(
            (text_kind(str(k)), value_kind(v, depth + 1)) for k, v in value.items()
        )
        return ("dict", bucket(len(value)), children)
    if isinstance(value, list | tuple):
        if len(value) > MAX_ENTRIES:
            raise Odd
        return ("list", bucket(len(value)), frozenset(value_kind(v, depth + 1) for v in value))
    raise Odd


def _kinds(values: Iterable[Any]) -> tuple[Hashable, ...]:
    return tuple(value_kind(v) for v in values)


def drawing_kind(item: CheckedVersion, has_children: bool) -> Hashable:
    """Everything that decides how the version's screen is drawn. Raises `Odd` for a
    version that must be drawn on its own."""
    version: Version = item.version
    if item.problems or item.warnings or version.problems:
        raise Odd
    lora, metrics, adapter = version.lora, version.metrics, version.adapter
    parent = version.parent
    texts = [version.id, version.path.name, str(version.path.parent)]
    if version.metadata_path is not None:
        texts.append(version.metadata_path.name)
    return (
        version.status,
        version.layout,
        _kinds(texts),
        value_kind(dict(version.metadata)),
        value_kind(dict(version.adapter_config)),
        _kinds(
            (
                version.base_model,
                version.created,
                lora.r,
                lora.alpha,
                lora.dropout,
                list(lora.target_modules),
                lora.use_rslora,
                lora.bias,
                version.num_samples,
                version.num_epochs,
                version.data_fingerprint,
                list(version.tags),
                version.notes,
                version.error,
                # (training arguments and library versions: inside the metadata's kind)
                item.final_loss,
                metrics.final_train_loss,
                metrics.best_train_loss,
                metrics.final_eval_loss,
                metrics.best_eval_loss,
                metrics.best_epoch,
            )
        ),
        None
        if adapter is None
        else (
            bucket(len(adapter.modules)),
            bucket(len(adapter.tensors)),
            len(adapter.ranks),
            _kinds(m.name for m in adapter.modules[:1]),
        ),
        bucket(len(version.checkpoints)),
        None if parent is None else (parent.mode, parent.checkpoint is None),
        has_children,
        item.history_shape,
    )


def versions_to_draw(items: Sequence[CheckedVersion]) -> list[str]:
    """Ids of the versions whose screens the app pass draws, in the given order: the
    first of each drawing kind and every odd one."""
    ids = {item.version.id for item in items}
    parents = {parent_among(item.version, ids) for item in items}
    seen: set[Hashable] = set()
    chosen: list[str] = []
    for item in items:
        try:
            kind = drawing_kind(item, item.version.id in parents)
        except Odd:
            chosen.append(item.version.id)
            continue
        if kind not in seen:
            seen.add(kind)
            chosen.append(item.version.id)
    return chosen
