"""Read and validate a safetensors header without loading any tensor.

The format is an 8-byte little-endian header length, a JSON header, then the raw data.
Reading the header costs the same for a 17 KB or a 200 MB adapter, which is what keeps
scanning and comparing fast. Every field is checked: a damaged file gives a `ReadError`
with a one-line reason, never an exception from deep inside a parser.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .jsonio import ReadError, parse_json
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


def read_header(path: Path) -> tuple[int, int, dict[str, Any]]:
    """Return (file size, header length, parsed header) of a safetensors file."""
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 8:
                raise ReadError(f"truncated: {size} bytes, shorter than the 8-byte header length")
            (length,) = struct.unpack("<Q", handle.read(8))
            if length == 0:
                raise ReadError("header length is 0")
            if length > MAX_HEADER_BYTES:
                raise ReadError(f"header length {length} exceeds the {MAX_HEADER_BYTES} limit")
            if length > size - 8:
                raise ReadError(f"truncated: header length {length} but only {size - 8} bytes follow")
            raw = handle.read(length)
    except IsADirectoryError:
        raise ReadError("is a directory, not a file") from None
    except FileNotFoundError:
        raise ReadError("missing") from None
    except PermissionError:
        raise ReadError("permission denied") from None
    except OSError as exc:
        raise ReadError(f"unreadable ({exc.strerror or exc.__class__.__name__})") from None
    if len(raw) != length:
        raise ReadError("truncated while reading the header")
    header = parse_json(raw.rstrip(b" "))  # the format pads the header with spaces
    if not isinstance(header, dict):
        raise ReadError(f"header is not a JSON object but {type(header).__name__}")
    return size, length, header


def parse_tensors(header: dict[str, Any], data_size: int) -> tuple[list[TensorInfo], dict[str, str]]:
    """Validate every tensor entry; return the tensors and the `__metadata__` strings."""
    tensors: list[TensorInfo] = []
    spans: list[tuple[int, int, str]] = []
    metadata: dict[str, str] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entry.items()
            ):
                raise ReadError("__metadata__ must map strings to strings")
            metadata = entry
            continue
        if not isinstance(entry, dict):
            raise ReadError(f"tensor {name!r}: entry is not an object")
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in DTYPE_SIZES:
            raise ReadError(f"tensor {name!r}: unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
            type(d) is int and d >= 0 for d in shape
        ):
            raise ReadError(f"tensor {name!r}: shape must be a list of non-negative integers")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(type(o) is int for o in offsets)
        ):
            raise ReadError(f"tensor {name!r}: data_offsets must be two integers")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise ReadError(
                f"tensor {name!r}: data_offsets [{begin}, {end}] outside the {data_size}-byte data"
            )
        count = 1
        for dim in shape:
            count *= dim
        expected = count * DTYPE_SIZES[dtype]
        if expected != end - begin:
            raise ReadError(
                f"tensor {name!r}: {dtype}{shape} needs {expected:g} bytes, offsets give {end - begin}"
            )
        tensors.append(TensorInfo(name, dtype, tuple(shape), end - begin))
        spans.append((begin, end, name))
    spans.sort()
    for (_, prev_end, prev_name), (begin, _, name) in zip(spans, spans[1:], strict=False):
        if begin < prev_end:
            raise ReadError(f"tensors {prev_name!r} and {name!r} overlap")
    return tensors, metadata


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts `h.2` before `h.10`."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _DIGITS.split(name) if p)


def lora_modules(tensors: list[TensorInfo]) -> tuple[LoraModule, ...]:
    """Group LoRA A/B tensors by the module they adapt, in file order."""
    shapes: dict[str, dict[str, tuple[int, ...]]] = {}
    for tensor in tensors:
        match = _LORA_KEY.match(tensor.name)
        if match:
            shapes.setdefault(match["module"], {})[match["side"]] = tensor.shape
    return tuple(LoraModule(name, s.get("A"), s.get("B")) for name, s in shapes.items())


def read_adapter(path: Path) -> AdapterInfo:
    """Read and validate an adapter's safetensors header into an `AdapterInfo`."""
    size, length, header = read_header(path)
    tensors, metadata = parse_tensors(header, size - 8 - length)
    tensors.sort(key=lambda t: natural_key(t.name))
    return AdapterInfo(
        path=path,
        file_size=size,
        tensors=tuple(tensors),
        modules=lora_modules(tensors),
        header_metadata=metadata,
    )
