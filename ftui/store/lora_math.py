"""Update norms and similarity of LoRA adapters, from their factors alone.

A LoRA module adds ΔW = s·B·A to a weight (A: r × in, B: out × r, s = alpha / r, or
alpha / √r with rsLoRA). How large that update is, and how much two adapters' updates
point the same way, says more than their shapes: it tells whether a retrain learned
something else or the same thing again. Both are computed from r × r products, never
forming the out × in matrix, so they stay cheap for large models:

    ‖ΔW‖²_F      = s² · Σ (AAᵀ ∘ BᵀB)
    ⟨ΔW₁, ΔW₂⟩_F = s₁s₂ · Σ (A₁A₂ᵀ ∘ B₁ᵀB₂)

Imported on demand (it loads numpy): the scan never needs it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .jsonio import ReadError
from .lora_config import rank_and_alpha, scale_for
from .model import AdapterInfo, LoraModule, TensorInfo

_NUMPY_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2"}
MAX_FACTOR_BYTES = 512 * 1024 * 1024  # r=256 × 256k vocab in F32 is 256 MiB


def pread_exact(fd: int, size: int, offset: int) -> bytes:
    """`size` bytes from `offset`, looping: one `pread` returns at most about 2 GiB on
    Linux (and any read may return less). Shorter only at the end of the file."""
    chunks: list[bytes] = []
    done = 0
    while done < size:
        chunk = os.pread(fd, size - done, offset + done)
        if not chunk:
            break
        chunks.append(chunk)
        done += len(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


@dataclass(frozen=True, slots=True)
class UpdateStats:
    """Per module: the norm of each side's update and the cosine between them."""

    module: str
    norm_a: float | None
    norm_b: float | None
    cosine: float | None  # None when either side is missing or the updates' shapes differ


class FactorReader:
    """Reads tensors of one adapter file by offset (`pread`), checked against its header."""

    def __init__(self, adapter: AdapterInfo) -> None:
        self.adapter = adapter
        try:
            self._fd = os.open(adapter.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as exc:
            raise ReadError(f"{adapter.path.name}: unreadable ({exc.strerror})") from None
        if os.fstat(self._fd).st_size != adapter.file_size:
            self.close()
            raise ReadError(f"{adapter.path.name}: changed on disk since it was read")

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def load(self, info: TensorInfo) -> np.ndarray | None:
        """The tensor as float32 (F64 stays float64); None for a dtype numpy lacks.

        One read, no float64 copy: a 100 MB adapter costs about one pass over its bytes.
        """
        if info.dtype != "BF16" and info.dtype not in _NUMPY_DTYPES:
            return None
        if info.nbytes > MAX_FACTOR_BYTES:  # no LoRA factor is this big: a sparse or
            return None  # hostile file claiming gigabytes must not cost gigabytes
        data = pread_exact(self._fd, info.nbytes, self.adapter.data_start + info.offset)
        if len(data) != info.nbytes:
            raise ReadError(f"{self.adapter.path.name}: truncated inside {info.name!r}")
        if info.dtype == "BF16":
            bits = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
            values = bits.view(np.float32)
        else:
            values = np.frombuffer(data, dtype=_NUMPY_DTYPES[info.dtype])
            if values.dtype == np.float16:
                values = values.astype(np.float32)
        return values.reshape(info.shape)


def module_scale(config: Mapping[str, Any], module: LoraModule) -> float:
    """s = alpha / r (alpha / √r with rsLoRA), with the module's own rank and its
    `alpha_pattern` entry, as peft computes it (see `lora_config`)."""
    pattern_rank, alpha = rank_and_alpha(config, module.name)
    rank = module.rank or pattern_rank or 1
    if alpha is None:
        alpha = float(rank)
    return scale_for(config, rank, alpha)


def _factors(reader: FactorReader, module: LoraModule) -> tuple[np.ndarray, np.ndarray] | None:
    if module.a_tensor is None or module.b_tensor is None:
        return None
    a_info, b_info = reader.adapter.tensor(module.a_tensor), reader.adapter.tensor(module.b_tensor)
    if a_info is None or b_info is None or len(a_info.shape) != 2 or len(b_info.shape) != 2:
        return None
    a, b = reader.load(a_info), reader.load(b_info)
    if a is None or b is None or a.shape[0] != b.shape[1]:
        return None
    return a, b


def _inner(a1: np.ndarray, b1: np.ndarray, a2: np.ndarray, b2: np.ndarray) -> float:
    """⟨B₁A₁, B₂A₂⟩_F without forming either product (r × r products, summed in float64)."""
    return float(np.sum((a1 @ a2.T).astype(np.float64) * (b1.T @ b2).astype(np.float64)))


def update_stats(
    a: AdapterInfo | None,
    config_a: Mapping[str, Any],
    b: AdapterInfo | None,
    config_b: Mapping[str, Any],
) -> list[UpdateStats]:
    """Norms and cosines for every module of either adapter (reads the tensors' data)."""
    mods_a = {m.name: m for m in a.modules} if a else {}
    mods_b = {m.name: m for m in b.modules} if b else {}
    reader_a = FactorReader(a) if a else None
    reader_b = FactorReader(b) if b else None
    try:
        result = []
        for name in dict.fromkeys([*mods_a, *mods_b]):
            fa = _factors(reader_a, mods_a[name]) if reader_a and name in mods_a else None
            fb = _factors(reader_b, mods_b[name]) if reader_b and name in mods_b else None
            norm_a = norm_b = cosine = None
            if fa is not None:
                s = module_scale(config_a, mods_a[name])
                norm_a = s * math.sqrt(max(_inner(*fa, *fa), 0.0))
            if fb is not None:
                s = module_scale(config_b, mods_b[name])
                norm_b = s * math.sqrt(max(_inner(*fb, *fb), 0.0))
            if fa is not None and fb is not None and norm_a and norm_b:
                same_shape = (fa[1].shape[0], fa[0].shape[1]) == (fb[1].shape[0], fb[0].shape[1])
                if same_shape:
                    scale = module_scale(config_a, mods_a[name]) * module_scale(
                        config_b, mods_b[name]
                    )
                    cosine = scale * _inner(*fa, *fb) / (norm_a * norm_b)
            result.append(UpdateStats(name, norm_a, norm_b, cosine))
        return result
    finally:
        for reader in (reader_a, reader_b):
            if reader is not None:
                reader.close()
