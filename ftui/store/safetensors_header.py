"""Read and validate a safetensors header without loading any tensor.

The format is an 8-byte little-endian header length, a JSON header, then the raw data.
Reading the header costs the same for a 17 KB or a 200 MB adapter, which is what keeps
scanning and comparing fast. Every field is checked: a damaged file gives a `ReadError`
with a one-line reason, never an exception from deep inside a parser.
"""

from __future__ import annotations

import functools
import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .jsonio import ReadError, open_regular, parse_json
from .model import AdapterInfo, LoraModule, TensorInfo

MAX_HEADER_BYTES = 100 * 1024 * 1024  # the limit the safetensors library itself enforces

DTYPE_SIZES: Mapping[str, float] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8,
    "C64": 8, "F4": 0.5, "F6_E2M3": 0.75, "F6_E3M2": 0.75,
}  # fmt: skip

_DIGITS = re.compile(r"(\d+)")
_LORA_KEY = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+?)\.lora_(?:embedding_)?(?P<side>[AB])"
    r"(?:\.[^.]+)?(?:\.weight)?$"
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
        raw = os.pread(fd, length, 8)
    except OSError as exc:
        raise ReadError(f"unreadable ({exc.strerror or exc.__class__.__name__})") from None
    finally:
        os.close(fd)
    if len(raw) != length:
        raise ReadError("truncated while reading the header")
    return size, raw


def parse_header(raw: bytes) -> dict[str, Any]:
    """The header's JSON object."""
    header = parse_json(raw.rstrip(b" "))  # the format pads the header with spaces
    if not isinstance(header, dict):
        raise ReadError(f"header is not a JSON object but {type(header).__name__}")
    return header


def parse_tensors(
    header: dict[str, Any], data_size: int
) -> tuple[list[TensorInfo], dict[str, str]]:
    """Validate every tensor entry; return the tensors (in data order) and `__metadata__`."""
    tensors: list[tuple[int, int, TensorInfo]] = []
    metadata: dict[str, str] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
            ):
                raise ReadError("__metadata__ must map strings to strings")
            metadata = entry
            continue
        if type(entry) is not dict:
            raise ReadError(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        item_size = DTYPE_SIZES.get(dtype) if isinstance(dtype, str) else None
        if item_size is None or not isinstance(dtype, str):
            raise ReadError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if type(shape) is not list:
            raise ReadError(f"tensor {name!r}: shape must be a list of non-negative integers")
        count = 1
        for dim in shape:
            if type(dim) is not int or dim < 0:
                raise ReadError(f"tensor {name!r}: shape must be a list of non-negative integers")
            count *= dim
        if type(offsets) is not list or len(offsets) != 2:
            raise ReadError(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        if type(begin) is not int or type(end) is not int:
            raise ReadError(f"tensor {name!r}: data_offsets must be two integers")
        if not 0 <= begin <= end <= data_size:
            raise ReadError(
                f"tensor {name!r}: data_offsets [{begin}, {end}] outside the {data_size}-byte data"
            )
        if count * item_size != end - begin:
            raise ReadError(
                f"tensor {name!r}: {dtype}{shape} needs {count * item_size:g} bytes,"
                f" offsets give {end - begin}"
            )
        info = TensorInfo(name, dtype, tuple(shape), end - begin, begin)
        tensors.append((begin, end, info))
    tensors.sort(key=_span_start)
    for (_, prev_end, prev), (begin, _, info) in zip(tensors, tensors[1:], strict=False):
        if begin < prev_end:
            raise ReadError(f"tensors {prev.name!r} and {info.name!r} overlap")
    return [t for _, _, t in tensors], metadata


def _span_start(item: tuple[int, int, TensorInfo]) -> int:
    return item[0]


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
            sides.setdefault(match["module"], {})[match["side"]] = tensor
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
