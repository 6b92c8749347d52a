"""Making untrusted strings safe to print on one terminal line."""

from __future__ import annotations

import re

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": " "}.get(char, f"\\x{ord(char):02x}")


def safe_text(value: str, keep_newlines: bool = False) -> str:
    """`value` with every control character shown as an escape (`\\x1b`), never sent raw.

    With `keep_newlines`, line breaks stay (for multi-line notes).
    """
    if keep_newlines:
        return "\n".join(_CONTROL.sub(_escape, line) for line in value.split("\n"))
    return _CONTROL.sub(_escape, value)


def one_line(value: str, limit: int = 200) -> str:
    """A printable, single-line, length-limited form of `value`."""
    text = safe_text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
