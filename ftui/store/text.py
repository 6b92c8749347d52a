"""Making untrusted strings safe to print on one terminal line.

Text from a user's folder may carry escape sequences, bidi overrides that make
`v_rtl\u202etxt.exe` read backwards, zero-width characters that hide part of a name, runs
of combining marks that overflow a layout, and undecodable bytes (file names read with
surrogate escapes). Everything shown goes through `safe_text`, which escapes all of them.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1), line/paragraph separators, every "format" (Cf)
# character (bidi controls, zero-width space/joiners, BOM, soft hyphen, tags...) and lone
# surrogates (the undecodable bytes of a file name).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
    "\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f\ud800-\udfff]"
)
MAX_COMBINING = 4  # marks in a row shown as they are; more (a "zalgo" run) are escaped
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": " "}


def escape_char(char: str) -> str:
    """The visible escape of one character: `\\x1b`, `\\u202e`, `\\xff` for a raw byte."""
    code = ord(char)
    if char in _ESCAPES:
        return _ESCAPES[char]
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _escape(match: re.Match[str]) -> str:
    return escape_char(match.group())


def _limit_combining(text: str) -> str:
    """Escape combining marks beyond `MAX_COMBINING` in a row."""
    out: list[str] = []
    run = 0
    for char in text:
        if unicodedata.category(char)[0] == "M":
            run += 1
            out.append(char if run <= MAX_COMBINING else escape_char(char))
        else:
            run = 0
            out.append(char)
    return "".join(out)


def safe_text(value: str, keep_newlines: bool = False) -> str:
    """`value` with every control, format or undecodable character shown as an escape.

    With `keep_newlines`, line breaks stay (for multi-line notes).
    """
    if keep_newlines:
        return "\n".join(safe_text(line) for line in value.split("\n"))
    text = _CONTROL.sub(_escape, value)
    return text if text.isascii() else _limit_combining(text)


def one_line(value: str, limit: int = 200) -> str:
    """A printable, single-line, length-limited form of `value`.

    Only the head is escaped, so a 60 MB string costs no more than a short one.
    """
    text = safe_text(value[: limit + 1])
    if len(value) > limit or len(text) > limit:
        return text[: limit - 1] + "…"
    return text


def preview(value: str, max_chars: int = 4000, max_lines: int = 60) -> str:
    """Multi-line text for display, cut to `max_chars` and `max_lines`, saying how much
    there is in all when it was cut (notes may be megabytes)."""
    head = value[:max_chars]
    lines = head.split("\n")
    cut = len(value) > max_chars or len(lines) > max_lines
    shown = "\n".join(lines[:max_lines])
    text = safe_text(shown, keep_newlines=True)
    if cut:
        total = value.count("\n") + 1
        text += (
            f"\n… ({len(value):,} characters, {total:,} lines in all;"
            f" the first {len(shown):,} characters shown)"
        )
    return text


def plural(count: float, noun: str) -> str:
    """`1 epoch`, `2 epochs`, `0.5 epochs`: the count (as `:g`) and the noun, agreeing."""
    return f"{count:g} {noun}" + ("" if count == 1 else "s")
