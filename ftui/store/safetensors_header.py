"""Read and validate a safetensors header without loading any tensor.

The format is an 8-byte little-endian header length, a JSON header, then the raw data.
Reading the header costs the same for a 17 KB or a 200 MB adapter, which is what keeps
scanning and comparing fast. Every field is checked: a damaged file gives a `ReadError`
with a one-line reason, never an exception from deep inside a parser.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .jsonio import ReadError, open_regular, too_deep
from .model import AdapterInfo, LoraModule, TensorInfo

MAX_HEADER_BYTES = 100_000_000  # the safetensors library's limit (not 100 MiB)
MAX_DEPTH = 127  # serde_json's recursion limit: 128 nested arrays/objects are refused
U64_MAX = 2**64 - 1

# Every dtype the library reads, in bits per element (F4/F6 pack several per byte).
DTYPE_BITS: Mapping[str, int] = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8,
    "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32, "F32": 32,
    "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}  # fmt: skip
TENSOR_FIELDS = ("dtype", "shape", "data_offsets")

_DIGITS = re.compile(r"(\d+)")
# peft's file keys: `<module>.lora_A.weight` / `lora_B.weight` (in memory with the adapter
# name before `.weight`), `<module>.lora_embedding_A` / `_B`. `lora_B.bias` (lora_bias=True)
# and DoRA's `lora_magnitude_vector` are not factors.
_LORA_KEY = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+?)\."
    r"(?:lora_(?P<side>[AB])(?:\.(?!bias$)[^.]+)?\.weight"
    r"|lora_embedding_(?P<emb>[AB])(?:\.(?!bias$|weight$)[^.]+)?(?:\.weight)?)$"
)


class _Object(dict[str, Any]):
    """A JSON object that keeps the values its repeated keys overwrote (the last one wins,
    as in the library, but each earlier one must still be valid there)."""

    __slots__ = ("shadowed",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        self.shadowed: list[tuple[str, Any]] = []
        if len(self) != len(pairs):
            last = {key: i for i, (key, _) in enumerate(pairs)}
            self.shadowed = [pair for i, pair in enumerate(pairs) if last[pair[0]] != i]


class _Negative(int):
    """An integer written with a minus sign (`-0` included): never a size or offset."""


def _parse_int(text: str) -> int:
    value = int(text)
    try:
        float(value)
    except OverflowError:
        raise ReadError("invalid JSON (number out of range)") from None
    return _Negative(value) if text.startswith("-") else value


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ReadError("invalid JSON (number out of range)")
    return value


def _no_constant(name: str) -> Any:
    raise ReadError(f"invalid JSON ({name} is not JSON)")


_DECODER = json.JSONDecoder(
    object_pairs_hook=_Object,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_no_constant,
)


def read_raw_header(path: Path | str) -> tuple[int, bytes]:
    """Return (file size, header bytes) of a safetensors file, checking the length field."""
    fd, size = open_regular(path)
    try:
        if size < 8:
            raise ReadError(f"truncated: {size} bytes, shorter than the 8-byte header length")
        (length,) = struct.unpack("<Q", os.pread(fd, 8, 0))
        if length == 0:
            raise ReadError("header length is 0")
        if length > MAX_HEADER_BYTES:
            raise ReadError(f"header length {length} exceeds the {MAX_HEADER_BYTES} limit")
        if length > size - 8:
            raise ReadError(f"truncated: header length {length} but only {size - 8} bytes follow")
        raw = _pread_all(fd, length, 8)
    except OSError as exc:
        raise ReadError(f"unreadable ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if len(raw) != length:
        raise ReadError("truncated while reading the header")
    return size, raw


def _pread_all(fd: int, length: int, offset: int) -> bytes:
    """`length` bytes at `offset` (a large header may come back in several reads)."""
    first = os.pread(fd, length, offset)
    if len(first) == length or not first:
        return first
    chunks = [first]
    got = len(first)
    while got < length:
        chunk = os.pread(fd, length - got, offset + got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def parse_header(raw: bytes) -> dict[str, Any]:
    """The header's JSON object, by the library's JSON rules (serde_json): UTF-8, no
    NaN/Infinity, no numbers out of range, no lone surrogate escapes, at most 127 levels
    of nesting; whitespace (space, tab, CR, LF) around it is allowed: that is the padding."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReadError(f"header is not UTF-8 (byte {exc.start})") from None
    try:
        header = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise ReadError(f"invalid JSON in the header ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ReadError(f"header nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:  # an integer too long to convert
        raise ReadError("invalid JSON in the header (number out of range)") from None
    if not isinstance(header, dict):
        raise ReadError(f"header is not a JSON object but {type(header).__name__}")
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and too_deep(header, MAX_DEPTH):
        raise ReadError(f"header nested deeper than {MAX_DEPTH} levels")
    if b"\\u" in raw and _has_lone_surrogate(header):
        raise ReadError("header has a lone surrogate escape (not valid JSON text)")
    return header


def _has_lone_surrogate(value: Any) -> bool:
    """True when any key or string holds a lone surrogate (Python decodes `\\ud800`; the
    library refuses it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _u64(value: object) -> bool:
    return type(value) is int and 0 <= value <= U64_MAX


def parse_tensors(
    header: dict[str, Any], data_size: int
) -> tuple[list[TensorInfo], dict[str, str]]:
    """Validate every tensor entry as the library does; return the tensors (in data order)
    and `__metadata__`. The tensors' byte ranges must cover the data exactly: no gap
    before, between or after them, no overlap; zero-size tensors may sit anywhere."""
    spans: list[tuple[int, int, str, str, tuple[int, ...]]] = []
    metadata: dict[str, str] = {}
    shadowed = header.shadowed if isinstance(header, _Object) else []
    if any(name == "__metadata__" for name, _ in shadowed):
        raise ReadError("__metadata__ appears twice")
    for name, entry in shadowed:  # overwritten by a later entry, but parsed all the same
        _tensor_entry(name, entry)
    for name, entry in header.items():
        if name == "__metadata__":
            if entry is None:
                continue
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise ReadError("__metadata__ must map strings to strings")
            metadata = dict(entry)
            continue
        spans.append(_tensor_entry(name, entry))
    spans.sort(key=_span_key)
    tensors: list[TensorInfo] = []
    position = 0
    for begin, end, name, dtype, shape in spans:
        if end > data_size:
            raise ReadError(
                f"tensor {name!r}: data_offsets [{begin}, {end}] outside the {data_size}-byte data"
            )
        if begin != position or end < begin:
            where = "a gap or overlap" if begin != position else "end before begin"
            raise ReadError(f"tensor {name!r}: data_offsets [{begin}, {end}]: {where}")
        position = end
        count = 1
        for dim in shape:
            count *= dim
            if count > U64_MAX:
                raise ReadError(f"tensor {name!r}: shape {list(shape)} overflows")
        bits = count * DTYPE_BITS[dtype]
        if bits > U64_MAX:
            raise ReadError(f"tensor {name!r}: shape {list(shape)} overflows")
        if bits % 8:
            raise ReadError(f"tensor {name!r}: {dtype}{list(shape)} does not fill whole bytes")
        if bits // 8 != end - begin:
            raise ReadError(
                f"tensor {name!r}: {dtype}{list(shape)} needs {bits // 8} bytes,"
                f" offsets give {end - begin}"
            )
        tensors.append(TensorInfo(name, dtype, shape, end - begin, begin))
    if position != data_size:
        extra = data_size - position
        raise ReadError(
            f"tensors cover {position} of {data_size} data bytes"
            + (f" ({extra} bytes after the last tensor)" if extra > 0 else "")
        )
    return tensors, metadata


def _tensor_entry(name: str, entry: object) -> tuple[int, int, str, str, tuple[int, ...]]:
    """(begin, end, name, dtype, shape) of one tensor entry, its fields checked."""
    if not isinstance(entry, dict):
        raise ReadError(f"tensor {name!r}: entry is not an object")
    shadowed = entry.shadowed if isinstance(entry, _Object) else []
    twice = [key for key, _ in shadowed if key in TENSOR_FIELDS]
    if twice:  # the library refuses a repeated field (repeated unknown ones are ignored)
        raise ReadError(f"tensor {name!r}: {twice[0]} appears twice")
    missing = [f for f in TENSOR_FIELDS if f not in entry]
    if missing:
        raise ReadError(f"tensor {name!r}: missing {missing[0]}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPE_BITS:
        raise ReadError(f"tensor {name!r}: unknown dtype {str(dtype)[:20]!r}")
    if type(shape) is not list or not all(_u64(d) for d in shape):
        raise ReadError(f"tensor {name!r}: shape must be a list of unsigned 64-bit integers")
    if type(offsets) is not list or len(offsets) != 2 or not all(_u64(o) for o in offsets):
        raise ReadError(f"tensor {name!r}: data_offsets must be two unsigned 64-bit integers")
    return offsets[0], offsets[1], name, dtype, tuple(shape)


def _span_key(item: tuple[int, int, str, str, tuple[int, ...]]) -> tuple[int, int]:
    return item[0], item[1]


@functools.lru_cache(maxsize=65536)
def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts `h.2` before `h.10`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(name) if p)


def lora_modules(tensors: list[TensorInfo]) -> tuple[LoraModule, ...]:
    """Group LoRA A/B tensors by the module they adapt, in natural module order."""
    sides: dict[str, dict[str, TensorInfo]] = {}
    for tensor in tensors:
        match = _LORA_KEY.match(tensor.name)
        if match:
            sides.setdefault(match["module"], {})[match["side"] or match["emb"]] = tensor
    modules = []
    for name in sorted(sides, key=natural_key):
        a, b = sides[name].get("A"), sides[name].get("B")
        modules.append(
            LoraModule(
                name,
                a.shape if a else None,
                b.shape if b else None,
                a.name if a else None,
                b.name if b else None,
            )
        )
    return tuple(modules)


Decoded = tuple[tuple[TensorInfo, ...], Mapping[str, str], tuple[LoraModule, ...], frozenset[int]]
CACHED_HEADER_BYTES = 256 * 1024


def decode_header(raw: bytes, data_size: int) -> Decoded:
    """Parse and validate header bytes: (tensors in data order, metadata, LoRA modules)."""
    tensors, metadata = parse_tensors(parse_header(raw), data_size)
    modules = lora_modules(tensors)
    ranks = frozenset(m.rank for m in modules if m.rank is not None)
    return tuple(tensors), MappingProxyType(metadata), modules, ranks


# Versions of one architecture and rank have byte-identical headers: each distinct header
# (and data size) is parsed and validated once per process. Failures are never cached.
_decode_cached = functools.lru_cache(maxsize=1024)(decode_header)


def read_adapter(path: Path | str) -> AdapterInfo:
    """Read and validate an adapter's safetensors header into an `AdapterInfo`."""
    size, raw = read_raw_header(path)
    data_size = size - 8 - len(raw)
    decode = _decode_cached if len(raw) <= CACHED_HEADER_BYTES else decode_header
    tensors, metadata, modules, ranks = decode(raw, data_size)
    return AdapterInfo(Path(path), size, tensors, modules, metadata, ranks, 8 + len(raw))
