"""Memory-mapped tensors of one safetensors file, read as float64 in blocks.

The analytics only ever need r × r products of LoRA factors, so a factor is never
copied whole: `row_blocks` converts a few thousand rows at a time from the mapped bytes
(bf16 included, which numpy lacks) to float64. Memory stays a small multiple of one
block, whatever the size of the adapter; pages are read from disk only when touched.
"""

from __future__ import annotations

import contextlib
import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .jsonio import ReadError
from .model import AdapterInfo, TensorInfo
from .safetensors_header import read_adapter

RAW_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2"}
BLOCK_ELEMENTS = 1 << 17  # 128 Ki values (1 MiB as float64) per converted block


class TensorFile:
    """One safetensors file, mapped read-only; checked against the header it was read with."""

    def __init__(self, info: AdapterInfo) -> None:
        self.info = info
        self._by_name = {t.name: t for t in info.tensors}
        try:
            fd = os.open(info.path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise ReadError(f"{info.path.name}: unreadable ({exc.strerror})") from None
        try:
            if os.fstat(fd).st_size != info.file_size:
                raise ReadError(f"{info.path.name}: changed on disk since it was read")
            self._map: mmap.mmap | None = (
                mmap.mmap(fd, 0, access=mmap.ACCESS_READ) if info.file_size else None
            )
        except OSError as exc:
            raise ReadError(f"{info.path.name}: cannot be mapped ({exc.strerror})") from None
        finally:
            os.close(fd)

    @classmethod
    def open(cls, path: Path) -> TensorFile:
        """Read and validate the header of `path`, then map it."""
        try:
            return cls(read_adapter(path))
        except ReadError as exc:
            raise ReadError(f"{path.name}: {exc}") from None

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):  # a live view keeps the mapping alive
                self._map.close()
            self._map = None

    def __enter__(self) -> TensorFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tensor(self, name: str) -> TensorInfo | None:
        return self._by_name.get(name)

    def raw(self, info: TensorInfo) -> np.ndarray:
        """The tensor's stored values, not copied (bf16 as its raw uint16 bits)."""
        dtype = RAW_DTYPES.get(info.dtype)
        if dtype is None:
            raise ReadError(f"{self.info.path.name}: {info.name!r} has dtype {info.dtype}, "
                            "which the analytics cannot read")  # fmt: skip
        if self._map is None:
            raise ReadError(f"{self.info.path.name}: closed")
        count = 1
        for dim in info.shape:
            count *= dim
        start = self.info.data_start + info.offset
        values = np.frombuffer(self._map, dtype=dtype, count=count, offset=start)
        return values.reshape(info.shape)


def to_float64(raw: np.ndarray) -> np.ndarray:
    """Stored values (bf16 as uint16 bits) as a new float64 array."""
    if raw.dtype == np.uint16:
        return (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return raw.astype(np.float64)


def row_blocks(raw: np.ndarray, rows: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(start row, float64 block) over a 2-D tensor, `rows` rows at a time."""
    if rows is None:
        rows = max(1, BLOCK_ELEMENTS // max(1, raw.shape[1]))
    for start in range(0, raw.shape[0], rows):
        yield start, to_float64(raw[start : start + rows])


def col_blocks(raw: np.ndarray, cols: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """(start column, float64 block) over a 2-D tensor, `cols` columns at a time."""
    if cols is None:
        cols = max(1, BLOCK_ELEMENTS // max(1, raw.shape[0]))
    for start in range(0, raw.shape[1], cols):
        yield start, to_float64(raw[:, start : start + cols])
