"""Filter expressions and sort orders for lists of versions.

A query is space-separated terms, all of which must match:

    eval_loss<0.9      numeric comparison (<, <=, >, >=, =, !=) on a known field
    r=16 alpha>=32     LoRA settings
    base=gpt2          substring of the base model (case-insensitive)
    status:failed      status; `tag:best` a tag; `parent:v_2026…` the parent id
    alias:prod         the version an alias names
    lr                 anything else: a plain substring of id, base model, tags or notes
    "two words"        quotes keep spaces inside one term
"""

from __future__ import annotations

import math
import operator
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from .model import Version
from .naming import name_variants

SORT_KEYS: dict[str, str] = {
    "time": "newest first",
    "eval_loss": "eval loss",
    "train_loss": "train loss",
    "name": "name",
    "size": "largest first",
}
# `sort_versions` also takes "final_loss" (eval loss where there is one, else train);
# the app does not offer it: it sorted like "eval_loss" whenever every version had one.

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, ">=": operator.ge, "!=": operator.ne,
    "<": operator.lt, ">": operator.gt, "=": operator.eq, "==": operator.eq,
}  # fmt: skip
_COMPARISON = re.compile(r"^(?P<field>[A-Za-z_]+)(?P<op><=|>=|!=|==|<|>|=)(?P<value>.*)$")
_LABELLED = re.compile(r"^(?P<field>[A-Za-z_]+):(?P<value>.+)$")


class QueryError(ValueError):
    """The filter text is not a valid query; `str()` is a one-line reason."""


def _numeric_fields() -> dict[str, Callable[[Version], float | None]]:
    def metric(name: str) -> Callable[[Version], float | None]:
        return lambda v: getattr(v.metrics, name)

    return {
        "r": lambda v: v.lora.r,
        "alpha": lambda v: v.lora.alpha,
        "lora_alpha": lambda v: v.lora.alpha,
        "dropout": lambda v: v.lora.dropout,
        "loss": lambda v: v.final_loss,
        "final_loss": lambda v: v.final_loss,
        "train_loss": metric("final_train_loss"),
        "eval_loss": metric("final_eval_loss"),
        "best_eval_loss": metric("best_eval_loss"),
        "best_train_loss": metric("best_train_loss"),
        "epochs": lambda v: v.num_epochs,
        "samples": lambda v: v.num_samples,
        "num_samples": lambda v: v.num_samples,
        "checkpoints": lambda v: len(v.checkpoints),
        "lr": lambda v: _number(v.training_args.get("learning_rate")),
        "learning_rate": lambda v: _number(v.training_args.get("learning_rate")),
    }


NUMERIC_FIELDS = _numeric_fields()
TEXT_FIELDS: dict[str, Callable[[Version], Iterable[str]]] = {
    "base": lambda v: [v.base_model or ""],
    "model": lambda v: [v.base_model or ""],
    "status": lambda v: [v.status.value],
    "tag": lambda v: v.tags,
    "parent": lambda v: name_variants(v.parent.version_id) if v.parent else [""],
    "id": lambda v: name_variants(v.id),  # `20260415_143022` and `v_20260415_143022` alike
    "notes": lambda v: [v.notes],
    "layout": lambda v: [v.layout.value],
    "alias": lambda v: v.aliases.keys(),
}
_EXACT_TEXT = frozenset({"status", "tag", "layout", "alias"})


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


Predicate = Callable[[Version], bool]


@dataclass(frozen=True)
class Query:
    """A parsed filter: every predicate must hold."""

    text: str
    predicates: tuple[Predicate, ...] = ()

    def matches(self, version: Version) -> bool:
        return all(p(version) for p in self.predicates)

    def filter(self, versions: Iterable[Version]) -> list[Version]:
        return [v for v in versions if self.matches(v)]


def _numeric_term(field: str, op: str, raw: str) -> Predicate:
    getter = NUMERIC_FIELDS[field]
    compare = _OPERATORS[op]
    try:
        target = float(raw)
    except ValueError:
        raise QueryError(f"{field}{op}{raw}: {raw!r} is not a number") from None

    def predicate(version: Version) -> bool:
        value = getter(version)
        return value is not None and not math.isnan(value) and compare(value, target)

    return predicate


def _text_term(field: str, op: str, raw: str) -> Predicate:
    getter = TEXT_FIELDS[field]
    needle = raw.lower()
    if op not in ("=", "==", "!=", ":"):
        raise QueryError(f"{field} takes = or :, not {op}")
    exact = field in _EXACT_TEXT

    def hit(version: Version) -> bool:
        values = (s.lower() for s in getter(version))
        return any((s == needle) if exact else (needle in s) for s in values)

    if op == "!=":
        return lambda v: not hit(v)
    return hit


def _plain_term(raw: str) -> Predicate:
    needle = raw.lower()

    def predicate(version: Version) -> bool:
        haystack = (
            *name_variants(version.id),
            version.base_model or "",
            version.notes,
            *version.tags,
            *version.aliases,
        )
        return any(needle in s.lower() for s in haystack)

    return predicate


def parse_query(text: str) -> Query:
    """Parse a filter expression; raises `QueryError` for a malformed term."""
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise QueryError(f"cannot split the filter ({exc})") from None
    predicates: list[Predicate] = []
    for term in terms:
        match = _COMPARISON.match(term)
        if match and match["field"].lower() in NUMERIC_FIELDS:
            predicates.append(_numeric_term(match["field"].lower(), match["op"], match["value"]))
            continue
        if match and match["field"].lower() in TEXT_FIELDS:
            predicates.append(_text_term(match["field"].lower(), match["op"], match["value"]))
            continue
        labelled = _LABELLED.match(term)
        if labelled and labelled["field"].lower() in TEXT_FIELDS:
            predicates.append(_text_term(labelled["field"].lower(), ":", labelled["value"]))
            continue
        if labelled and labelled["field"].lower() in NUMERIC_FIELDS:
            raise QueryError(f"{term}: use a comparison such as {labelled['field']}<0.9")
        if match:
            known = ", ".join(sorted(NUMERIC_FIELDS) + sorted(TEXT_FIELDS))
            raise QueryError(f"unknown field {match['field']!r} (known: {known})")
        predicates.append(_plain_term(term))
    return Query(text, tuple(predicates))


def sort_versions(
    versions: Iterable[Version],
    key: str,
    reverse: bool = False,
    sizes: Mapping[str, int] | None = None,
) -> list[Version]:
    """Sort by one of `SORT_KEYS`; unknown values (e.g. no loss yet) always go last.

    `size` sorts by the bytes in `sizes` (version id -> bytes), largest first; versions
    whose size is not known yet go last.
    """
    items = list(versions)
    if key == "size":
        known_sizes = sizes or {}

        def by_size(v: Version) -> tuple[int, int, str]:
            size = known_sizes.get(v.id)
            return (size is None, -(size or 0) if not reverse else (size or 0), v.id)

        return sorted(items, key=by_size)
    if key == "time":
        return sorted(items, key=lambda v: (v.created or 0.0, v.id), reverse=not reverse)
    if key == "name":
        return sorted(items, key=lambda v: v.id, reverse=reverse)
    getter: Callable[[Version], float | None]
    if key in ("final_loss", "eval_loss", "train_loss"):
        getter = NUMERIC_FIELDS[key]
    else:
        raise QueryError(f"unknown sort key {key!r} (known: {', '.join(SORT_KEYS)})")
    known: list[tuple[float, Version]] = []
    unknown: list[Version] = []
    for version in items:
        value = getter(version)
        if value is None or math.isnan(value):
            unknown.append(version)
        else:
            known.append((value, version))
    known.sort(key=lambda pair: (pair[0], pair[1].id), reverse=reverse)
    return [v for _, v in known] + sorted(unknown, key=lambda v: v.id)
