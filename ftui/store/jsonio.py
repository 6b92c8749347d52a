"""Reading untrusted JSON files and writing our own ones atomically.

Files in a user's folder may be truncated, binary, huge, a directory or a dangling link.
`read_json_object` turns each of those into a `ReadError` with a one-line reason, so
callers never see a raw exception from a file they did not write.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 64 * 1024 * 1024  # a metadata or trainer_state file larger than this is refused
MAX_JSON_DEPTH = 64  # deeper nesting is refused: no file of ours nests past 5 levels, and
# everything that formats or compares values may then recurse safely


class ReadError(Exception):
    """A file could not be read as what we expected; `str()` is a one-line reason."""


def open_regular(path: Path | str) -> tuple[int, int]:
    """Open a regular file for reading without ever blocking; return (fd, size).

    A FIFO or device named like one of our files would hang a plain `open()`, and a
    directory would fail later with a confusing error: both are refused here.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ReadError("missing") from None
    except PermissionError:
        raise ReadError("permission denied") from None
    except OSError as exc:
        raise ReadError(f"unreadable ({exc.strerror or exc.__class__.__name__})") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise ReadError(f"is {kind}, not a file" if kind == "a directory" else kind)
    return fd, st.st_size


def read_bytes(path: Path | str, limit: int = MAX_JSON_BYTES) -> bytes:
    """The whole content of a regular file, refusing directories and oversized files."""
    fd, size = open_regular(path)
    try:
        if size > limit:
            raise ReadError(f"larger than {limit // (1024 * 1024)} MiB")
        chunks = []
        remaining = size + 1  # one byte more, to notice a file that grew while we read
        while remaining > 0:
            chunk = os.read(fd, remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise ReadError(f"unreadable ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if len(data) > limit:
        raise ReadError(f"larger than {limit // (1024 * 1024)} MiB")
    return data


def parse_json(data: bytes, depth_limit: bool = True) -> Any:
    """Parse UTF-8 JSON bytes, raising `ReadError` with a short reason.

    With `depth_limit`, nesting past `MAX_JSON_DEPTH` is refused so that everything that
    formats or compares the value may recurse. Readers that only pick flat fields out of
    a file (the loss log of trainer_state.json) turn it off: it costs more than the parse.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReadError(f"not UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text)  # NaN/Infinity load as floats: losses can be NaN
    except json.JSONDecodeError as exc:
        raise ReadError(
            f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except RecursionError:
        raise ReadError(f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)") from None
    if (
        depth_limit
        and (data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH)
        and (nesting_depth(data) > MAX_JSON_DEPTH)
    ):
        raise ReadError(f"invalid JSON (nested deeper than {MAX_JSON_DEPTH} levels)")
    return value


# A JSON string (valid JSON assumed: the text has been parsed already), unrolled so the
# regex engine runs through plain characters without backtracking.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def nesting_depth(data: bytes) -> int:
    """How deeply arrays and objects nest in `data`, which parsed as JSON: counted on the
    bytes (strings removed, brackets kept), far faster than walking the parsed value."""
    brackets = _JSON_STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when lists/objects in `value` nest more than `limit` levels (iterative)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def read_json_object(
    path: Path | str, limit: int = MAX_JSON_BYTES, depth_limit: bool = True
) -> dict[str, Any]:
    """Read a JSON file whose top level must be an object."""
    value = parse_json(read_bytes(path, limit), depth_limit)
    if not isinstance(value, dict):
        raise ReadError(f"expected a JSON object, found {type(value).__name__}")
    return value


def dumps(value: Any) -> str:
    """Our canonical JSON text: indented, key order kept, non-JSON values as strings."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically: temp file in the same folder, fsync, rename.

    Readers see the old content or the new one, never half of it.
    """
    import tempfile  # only writers need it; keeps read-only imports light

    directory = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
