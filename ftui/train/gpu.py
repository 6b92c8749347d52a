"""The hardware probe behind `Metrics`: peak CUDA memory from torch, utilisation from NVML.

`make_probe` returns None on a CPU run (nothing to report). On CUDA it reads torch's
caching-allocator peaks (host-side counters: no device synchronisation) and, when the
optional `nvidia-ml-py` package is installed (`pip install 'ftui[gpu]'`), NVML's
utilisation of the same physical GPU. Without NVML the utilisation stays None and is
not shown. Called about once a second, never per step.
"""

from __future__ import annotations

import os
from typing import Any

from .metrics import HardwareSample, Probe


def make_probe(device: str) -> Probe | None:
    """A probe for this process's device, or None when it is not a CUDA device."""
    if device != "cuda":
        return None
    import torch

    if not torch.cuda.is_available():
        return None
    index = torch.cuda.current_device()
    nvml = _nvml_handle(index)

    def probe() -> HardwareSample:
        allocated = int(torch.cuda.max_memory_allocated(index))
        reserved = int(torch.cuda.max_memory_reserved(index))
        return allocated, reserved, _utilisation(nvml)

    return probe


def physical_index(index: int, visible: str | None) -> int | str:
    """The NVML device for torch's device `index` under CUDA_VISIBLE_DEVICES `visible`:
    an NVML index, or a UUID string (`GPU-…`/`MIG-…`) when the variable names devices so."""
    if not visible or not visible.strip():
        return index
    entries = [entry.strip() for entry in visible.split(",") if entry.strip()]
    if index >= len(entries):
        return index
    entry = entries[index]
    return int(entry) if entry.isdigit() else entry


def _nvml_handle(index: int) -> Any:
    """NVML's handle for torch's device `index`, or None (NVML not installed or failing)."""
    try:
        import pynvml  # the optional `gpu` extra (nvidia-ml-py)
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
        device = physical_index(index, os.environ.get("CUDA_VISIBLE_DEVICES"))
        if isinstance(device, str):
            return pynvml, pynvml.nvmlDeviceGetHandleByUUID(device)
        return pynvml, pynvml.nvmlDeviceGetHandleByIndex(device)
    except Exception:  # noqa: BLE001 - no driver, a MIG slice, a container without NVML
        return None


def _utilisation(nvml: Any) -> float | None:
    if nvml is None:
        return None
    module, handle = nvml
    try:
        return float(module.nvmlDeviceGetUtilizationRates(handle).gpu)
    except Exception:  # noqa: BLE001 - reported as unknown, never an error
        return None
