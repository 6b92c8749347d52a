"""What weights one folder holds (a version or one of its checkpoints), checked.

A folder may hold a LoRA adapter (`adapter_model.safetensors` + `adapter_config.json`,
what peft's `save_pretrained` writes), a pickled adapter (`adapter_model.bin`, peft's
`safe_serialization=False`: never unpickled, reported), a merged full model
(`model.safetensors`, or shards named by `model.safetensors.index.json`), or nothing.
Every problem names the file and the reason; nothing here raises on a damaged folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .fields import as_dict, as_float, as_int, as_str, as_str_tuple
from .jsonio import ReadError, read_json_object
from .model import AdapterInfo, LoraSettings, Problem
from .safetensors_header import read_adapter

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
PICKLE_WEIGHTS = "adapter_model.bin"
MERGED_WEIGHTS = "model.safetensors"
MERGED_INDEX = "model.safetensors.index.json"
PICKLE_REASON = "pickle format, not read; re-save with safe_serialization=True"
CONFIG_LIMIT = 1024 * 1024

# What each kind of folder is called where it is shown.
LORA, MERGED, PICKLE, NONE = "lora", "merged", "pickle", ""


@dataclass(frozen=True)
class FolderWeights:
    """The weights of one folder: its adapter_config, its adapter header, and its kind
    (`lora`, `merged` for a full model, `pickle` for an unread adapter_model.bin, or ``
    when it holds no weights)."""

    config: dict[str, Any] = field(default_factory=dict)
    adapter: AdapterInfo | None = None
    kind: str = NONE


def read_config(folder: Path, problems: list[Problem], label: str) -> dict[str, Any]:
    """`adapter_config.json` of `folder` ({} when missing; a problem when unreadable)."""
    try:
        return read_json_object(os.path.join(folder, ADAPTER_CONFIG), limit=CONFIG_LIMIT)
    except ReadError as exc:
        if str(exc) != "missing":
            problems.append(Problem(f"{label}/{ADAPTER_CONFIG}", str(exc)))
        return {}


def read_weights(
    folder: Path, problems: list[Problem], label: str, required: bool
) -> tuple[AdapterInfo | None, str]:
    """The adapter header of `folder` and the folder's kind; problems for damaged files,
    a pickle adapter, or (when `required`) no weights at all."""
    try:
        return read_adapter(os.path.join(folder, ADAPTER_WEIGHTS)), LORA
    except ReadError as exc:
        if str(exc) != "missing":
            problems.append(Problem(f"{label}/{ADAPTER_WEIGHTS}", str(exc)))
            return None, LORA
    if os.path.lexists(folder / PICKLE_WEIGHTS):
        problems.append(Problem(f"{label}/{PICKLE_WEIGHTS}", PICKLE_REASON))
        return None, PICKLE
    try:
        read_adapter(os.path.join(folder, MERGED_WEIGHTS))  # validates the header only
        return None, MERGED
    except ReadError as exc:
        if str(exc) != "missing":
            problems.append(Problem(f"{label}/{MERGED_WEIGHTS}", str(exc)))
            return None, MERGED
    if os.path.lexists(folder / MERGED_INDEX):
        return None, MERGED  # a sharded full model
    if required:
        problems.append(Problem(f"{label}/{ADAPTER_WEIGHTS}", "missing"))
    return None, NONE


def read_folder(folder: Path, problems: list[Problem], label: str, required: bool) -> FolderWeights:
    """Config and weights of one folder, its rank checked against its own config."""
    config = read_config(folder, problems, label)
    adapter, kind = read_weights(folder, problems, label, required)
    check_ranks(lora_settings({}, config), config, adapter, {}, problems, label)
    return FolderWeights(config, adapter, kind)


def lora_settings(meta_lora: dict[str, Any], config: dict[str, Any]) -> LoraSettings:
    """LoRA settings: adapter_config.json wins (it is what peft loads), metadata fills gaps."""

    def pick(key: str) -> Any:
        return config[key] if config.get(key) is not None else meta_lora.get(key)

    rslora = pick("use_rslora")
    return LoraSettings(
        r=as_int(pick("r")),
        alpha=as_float(pick("lora_alpha")),
        dropout=as_float(pick("lora_dropout")),
        target_modules=as_str_tuple(pick("target_modules")),
        use_rslora=rslora if isinstance(rslora, bool) else None,
        bias=as_str(pick("bias")),
    )


def check_ranks(
    lora: LoraSettings,
    config: dict[str, Any],
    adapter: AdapterInfo | None,
    meta_lora: dict[str, Any],
    problems: list[Problem],
    label: str,
) -> None:
    """Every LoRA factor has its pair, and the rank agrees across adapter_config.json,
    the tensors and the metadata."""
    config_r = as_int(config.get("r"))
    meta_r = as_int(meta_lora.get("r"))
    if config_r is not None and meta_r is not None and config_r != meta_r:
        problems.append(
            Problem(f"{label}/{ADAPTER_CONFIG}", f"r={config_r} but the metadata says r={meta_r}")
        )
    if adapter is not None:
        unpaired = [m for m in adapter.modules if m.a_shape is None or m.b_shape is None]
        if unpaired:
            shown = ", ".join(
                f"{m.name} has lora_{'A' if m.b_shape is None else 'B'} but no "
                f"lora_{'B' if m.b_shape is None else 'A'}"
                for m in unpaired[:3]
            )
            more = f" (+{len(unpaired) - 3} more)" if len(unpaired) > 3 else ""
            problems.append(Problem(f"{label}/{ADAPTER_WEIGHTS}", shown + more))
    expected = config_r if config_r is not None else meta_r
    if adapter is None or expected is None or not adapter.modules:
        return
    if as_dict(config.get("rank_pattern")):
        return  # per-module ranks are allowed to differ
    wrong = sorted(adapter.ranks - {expected})
    if wrong:
        source = ADAPTER_CONFIG if config_r is not None else "metadata"
        problems.append(
            Problem(
                f"{label}/{ADAPTER_WEIGHTS}",
                f"tensors have rank {', '.join(map(str, wrong))} but {source} says r={expected}",
            )
        )
