"""The base model's weights, for DoRA: memory-mapped, and only the tensors asked for.

A DoRA update depends on the base weight W₀ (its row norms rescale the merged weight),
so the true update can be computed only where the base model lies on local disk as
safetensors: one `model.safetensors`, or shards listed in `model.safetensors.index.json`.
Nothing is loaded up front: each shard is mapped when a weight in it is first asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .jsonio import ReadError, read_json_object
from .tensor_file import TensorFile, to_float64

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


class BaseWeights:
    """The weights of a local base model folder, looked up by module name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._files: dict[str, TensorFile] = {}
        self._weight_map: Mapping[str, str] | None = None
        if (folder / INDEX_FILE).is_file():
            index = read_json_object(folder / INDEX_FILE)
            weight_map = index.get("weight_map")
            if not isinstance(weight_map, dict):
                raise ReadError(f"{INDEX_FILE}: no weight_map")
            self._weight_map = {
                k: v for k, v in weight_map.items() if isinstance(v, str) and "/" not in v
            }
        elif not (folder / SINGLE_FILE).is_file():
            raise ReadError(f"{folder.name}: no {SINGLE_FILE} or {INDEX_FILE}")

    @classmethod
    def find(cls, folder: Path | None) -> BaseWeights | None:
        """The base weights in `folder`, or None when it holds no readable safetensors."""
        if folder is None:
            return None
        try:
            return cls(folder)
        except (ReadError, OSError):
            return None

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()
        self._files.clear()

    def _file(self, name: str) -> TensorFile:
        if name not in self._files:
            self._files[name] = TensorFile.open(self.folder / name)
        return self._files[name]

    def _has(self, key: str) -> TensorFile | None:
        if self._weight_map is not None:
            shard = self._weight_map.get(key)
            return self._file(shard) if shard is not None else None
        handle = self._file(SINGLE_FILE)
        return handle if handle.tensor(key) is not None else None

    def weight(self, module: str) -> np.ndarray | None:
        """The module's stored weight as float64, or None when the model lacks it.

        Tried as named, then without leading components (`model.x` is saved as `x` by
        some architectures).
        """
        parts = module.split(".")
        for start in range(len(parts)):
            key = ".".join(parts[start:]) + ".weight"
            try:
                handle = self._has(key)
            except ReadError:
                return None
            if handle is not None:
                info = handle.tensor(key)
                if info is None or len(info.shape) != 2:
                    return None
                return to_float64(handle.raw(info))
        return None
