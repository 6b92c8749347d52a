"""Turning store objects into rich `Text` for display: symbols, numbers, labels.

Every string that comes from a file goes through `safe_text` and into a `Text` object,
never through markup, so `[bold]` or an escape sequence in a run name shows literally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.text import Text

from ftui.store import Checkpoint, Status, Version, one_line, safe_text

from .palette import Palette

# A symbol per status, so the status reads without colour (NO_COLOR, monochrome terminals).
STATUS_SYMBOL: dict[Status, str] = {
    Status.COMPLETED: "✓",
    Status.RUNNING: "↻",  # not ▶: that is the tree's own collapsed-row arrow
    Status.QUEUED: "…",
    Status.FAILED: "✗",
    Status.CANCELLED: "⊘",
    Status.INTERRUPTED: "!",
    Status.DAMAGED: "⚠",
}


def plain(value: object, limit: int = 200) -> Text:
    """Untrusted text as a one-line `Text` with control characters escaped."""
    return Text(one_line(str(value), limit))


def fmt_loss(value: float | None) -> str:
    if value is None:
        return "—"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.4f}"


def fmt_epoch(value: float | None) -> str:
    """An epoch as people say it: `3`, `0.97` (the Trainer logs 0.969697)."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def fmt_row_loss(value: float | None) -> str:
    """A loss in a tree row: three decimals, so nested rows keep it at 80 columns."""
    if value is None or not math.isfinite(value):
        return fmt_loss(value)
    return f"{value:.3f}"


def fmt_time(created: float | None) -> str:
    """Absolute local time (never relative, so screens and snapshots are deterministic)."""
    if created is None:
        return "—"
    try:
        return datetime.fromtimestamp(created).strftime("%Y-%m-%d %H:%M")
    except (OverflowError, OSError, ValueError):
        return "—"


class _Raw(str):
    """Punctuation pushed by `fmt_value` itself (never a value from a file)."""


def _scalar(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_value(value: Any, limit: int = 120) -> str:
    """A metadata value on one line: lists joined, None as a dash, strings escaped.

    Iterative and bounded: however deep or long the value, at most about `limit`
    characters are produced, so a hostile file cannot recurse or stall the display.
    """
    parts: list[str] = []
    length = 0
    stack: list[Any] = [value]
    top = True  # the outer list is joined bare (`a, b`); nested ones keep brackets
    while stack and length <= limit:
        item = stack.pop()
        if isinstance(item, _Raw):
            text = str(item)
        elif isinstance(item, list | tuple | dict):
            items = list(item.items())[: limit + 1] if isinstance(item, dict) else item[: limit + 1]
            more = len(item) > len(items)
            pushed: list[Any] = []
            for i, entry in enumerate(items):
                if i:
                    pushed.append(_Raw(", "))
                if isinstance(item, dict):
                    pushed += [_Raw(f"{_scalar(entry[0])[:limit]}: "), entry[1]]
                else:
                    pushed.append(entry)
            if more:
                pushed.append(_Raw(", …"))
            if not top or isinstance(item, dict):
                opening, closing = ("{", "}") if isinstance(item, dict) else ("[", "]")
                pushed = [_Raw(opening), *pushed, _Raw(closing)]
            stack.extend(reversed(pushed))
            top = False
            continue
        else:
            text = _scalar(item)[: limit + 1]
        top = False
        parts.append(text)
        length += len(text)
    return one_line("".join(parts), limit)


def status_text(status: Status, palette: Palette | None = None) -> Text:
    """`✓ completed`, in the palette's colour for that status (none without one)."""
    style = (palette or {}).get(status.value, "")
    return Text(f"{STATUS_SYMBOL[status]} {status.value}", style=style)


def row_loss(version: Version, sort_key: str = "time") -> tuple[str, float | None]:
    """Which loss a tree row shows, and its value: the one sorted by, else eval loss
    where there is one, else train loss."""
    m = version.metrics
    if sort_key == "train_loss":
        return "train", m.final_train_loss
    if sort_key == "eval_loss" or m.final_eval_loss is not None:
        return "eval", m.final_eval_loss
    return "train", m.final_train_loss


def version_label(
    version: Version, marked: bool = False, sort_key: str = "time", palette: Palette | None = None
) -> Text:
    """One tree row: mark, status symbol, id, r/alpha, and a loss named by its kind;
    colours from `palette` (the tree's, from the theme)."""
    colours = palette or {}
    label = Text()
    label.append("●" if marked else " ", style="bold")
    label.append(STATUS_SYMBOL[version.status] + " ", style=colours.get(version.status, ""))
    label.append(safe_text(version.id))
    aliases = (a for a, t in version.aliases.items() if t is None)
    label.append_text(alias_text(aliases, colours))
    label.append(f" {version.weights_label}", style=colours.get("lora", ""))
    if version.status is Status.QUEUED:
        label.append(f" {queue_text(version)}", style=colours.get(Status.QUEUED, ""))
    else:
        kind, loss = row_loss(version, sort_key)
        label.append(f" {kind} {fmt_row_loss(loss)}")
    return label


def queue_text(version: Version) -> str:
    """`queued #2` (its place in the device queue, as the waiting run records it)."""
    queue = version.metadata.get("queue")
    position = queue.get("position") if isinstance(queue, dict) else None
    if isinstance(position, int) and not isinstance(position, bool) and 0 < position < 10**6:
        return f"queued #{position}"
    return "queued"


def alias_text(aliases: Iterable[str], palette: Palette | None = None) -> Text:
    """` @prod @staging` after a row's name (empty when there are none)."""
    names = sorted(aliases)
    style = (palette or {}).get("alias", "")
    return Text(" " + " ".join(f"@{safe_text(n)}" for n in names), style=style) if names else Text()


def checkpoint_label(
    checkpoint: Checkpoint,
    marked: bool = False,
    aliases: Iterable[str] = (),
    palette: Palette | None = None,
) -> Text:
    label = Text()
    label.append("● " if marked else "  ", style="bold")
    label.append(safe_text(checkpoint.label), style="dim")
    label.append_text(alias_text(aliases, palette))
    if checkpoint.eval_loss is not None:
        label.append(f" eval {fmt_row_loss(checkpoint.eval_loss)}")
    elif checkpoint.train_loss is not None:
        label.append(f" train {fmt_row_loss(checkpoint.train_loss)}")
    return label


def shape_text(shape: tuple[int, ...] | None) -> str:
    return "—" if shape is None else "×".join(map(str, shape))
