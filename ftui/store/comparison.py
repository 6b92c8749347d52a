"""Compare two versions (or checkpoints): settings that differ and a per-module LoRA diff.

Shapes come from safetensors headers only, so comparing two 100 MB adapters costs the
same as comparing two 17 KB ones.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .fields import flatten
from .folder_weights import ADAPTER_CONFIG, ADAPTER_WEIGHTS
from .jsonio import ReadError, read_json_object
from .model import AdapterInfo, Checkpoint, LoraModule, Metrics, Version
from .safetensors_header import read_adapter

# Metadata that is not a setting: identity, bookkeeping, results and labels. Results are
# compared through the loss curves and `metric_pairs`, not as settings.
NOT_SETTINGS = frozenset({
    "version_id", "timestamp", "run", "error", "epochs", "log_history", "loss_history",
    "metrics", "status", "tags", "notes", "schema_version",
})  # fmt: skip
# Paths that name the run itself (they differ for any two runs).
RUN_PATHS = frozenset({"output_dir", "logging_dir", "run_name"})
# adapter_config keys the metadata already records (lora_config / spec / model_name).
RECORDED_ADAPTER_KEYS = frozenset({"r", "lora_alpha", "lora_dropout", "base_model_name_or_path"})


class ModuleStatus(enum.StrEnum):
    SAME = "same"
    SHAPE_DIFFERS = "shape differs"
    ONLY_A = "only in A"
    ONLY_B = "only in B"


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a comparison: a version, or one of its checkpoints."""

    label: str
    version: Version
    checkpoint: Checkpoint | None
    adapter: AdapterInfo | None
    adapter_config: Mapping[str, Any]
    error: str | None = None

    @property
    def base_model(self) -> str | None:
        return self.version.base_model


@dataclass(frozen=True, slots=True)
class SettingDiff:
    key: str
    a: Any
    b: Any

    @property
    def differs(self) -> bool:
        return self.a != self.b


@dataclass(frozen=True, slots=True)
class ModuleDiff:
    name: str
    a: LoraModule | None
    b: LoraModule | None
    status: ModuleStatus


@dataclass(frozen=True, slots=True)
class Comparison:
    a: Side
    b: Side
    settings: tuple[SettingDiff, ...]  # every key, in order; filter on `differs`
    modules: tuple[ModuleDiff, ...]

    @property
    def differing_settings(self) -> tuple[SettingDiff, ...]:
        return tuple(s for s in self.settings if s.differs)

    @property
    def base_models_differ(self) -> bool:
        return self.a.base_model != self.b.base_model

    def summary(self) -> str:
        return summarize(self.modules)


def diff_mappings(a: Mapping[str, Any], b: Mapping[str, Any]) -> tuple[SettingDiff, ...]:
    """Every flattened key of either side, with both values (None where absent)."""
    flat_a, flat_b = flatten(a), flatten(b)
    keys = list(dict.fromkeys([*flat_a, *flat_b]))
    return tuple(SettingDiff(k, flat_a.get(k), flat_b.get(k)) for k in keys)


def settings_of(side: Side) -> dict[str, Any]:
    """The settings a run was made with, each recorded once.

    ftui metadata keeps the full `spec`, from which `lora_config` and `training_args`
    were derived: only the spec is compared. LoRA keys the metadata records are dropped
    from adapter_config.json; what only the adapter knows (resolved target modules,
    fan_in_fan_out, task type…) stays.
    """
    meta = {k: v for k, v in side.version.metadata.items() if k not in NOT_SETTINGS}
    if isinstance(meta.get("spec"), Mapping):
        meta.pop("lora_config", None)
        meta.pop("training_args", None)
    if isinstance(meta.get("training_args"), Mapping):
        meta["training_args"] = {
            k: v for k, v in meta["training_args"].items() if k not in RUN_PATHS
        }
    adapter = dict(side.adapter_config)
    if meta:
        adapter = {k: v for k, v in adapter.items() if k not in RECORDED_ADAPTER_KEYS}
    else:  # a Trainer folder: describe it from what was read
        meta = {"model_name": side.version.base_model}
    return {**meta, "adapter_config": adapter}


def metric_pairs(comparison: Comparison) -> list[tuple[str, float | None, float | None]]:
    """(name, A, B) for the summary losses either side knows, for a results line."""
    pairs = []
    metrics_a, metrics_b = side_metrics(comparison.a), side_metrics(comparison.b)
    for name in ("final_train_loss", "final_eval_loss", "best_eval_loss"):
        a = getattr(metrics_a, name)
        b = getattr(metrics_b, name)
        if a is not None or b is not None:
            pairs.append((name, a, b))
    return pairs


def side_metrics(side: Side) -> Metrics:
    """A side's own losses: a checkpoint's are its train and eval loss at its step (and the
    best eval loss of the checkpoints up to it), never the whole version's."""
    checkpoint = side.checkpoint
    if checkpoint is None:
        return side.version.metrics
    seen = [
        c for c in side.version.checkpoints if c.step <= checkpoint.step and c.eval_loss is not None
    ]
    best = min(seen, key=lambda c: c.eval_loss or 0.0) if seen else None
    return Metrics(
        final_train_loss=checkpoint.train_loss,
        final_eval_loss=checkpoint.eval_loss,
        best_eval_loss=best.eval_loss if best else None,
        best_epoch=best.epoch if best else None,
    )


def diff_modules(a: AdapterInfo | None, b: AdapterInfo | None) -> tuple[ModuleDiff, ...]:
    """Pair modules by name; A's order first, then those only in B."""
    mods_a = {m.name: m for m in a.modules} if a else {}
    mods_b = {m.name: m for m in b.modules} if b else {}
    result = []
    for name in dict.fromkeys([*mods_a, *mods_b]):
        ma, mb = mods_a.get(name), mods_b.get(name)
        if ma is None:
            status = ModuleStatus.ONLY_B
        elif mb is None:
            status = ModuleStatus.ONLY_A
        elif (ma.a_shape, ma.b_shape) == (mb.a_shape, mb.b_shape):
            status = ModuleStatus.SAME
        else:
            status = ModuleStatus.SHAPE_DIFFERS
        result.append(ModuleDiff(name, ma, mb, status))
    return tuple(result)


def summarize(modules: tuple[ModuleDiff, ...]) -> str:
    """One line, e.g. `24 modules, rank 4 → 8, 2 modules only in B`."""
    if not modules:
        return "no LoRA modules on either side"
    parts = [f"{len(modules)} module{'s' if len(modules) != 1 else ''}"]
    ranks_a = sorted({m.a.rank for m in modules if m.a and m.a.rank is not None})
    ranks_b = sorted({m.b.rank for m in modules if m.b and m.b.rank is not None})
    fmt = "/".join
    if ranks_a == ranks_b:
        parts.append(f"rank {fmt(map(str, ranks_a)) or '?'}")
    else:
        parts.append(f"rank {fmt(map(str, ranks_a)) or '?'} → {fmt(map(str, ranks_b)) or '?'}")
    counts: dict[ModuleStatus, int] = {}
    for module in modules:
        counts[module.status] = counts.get(module.status, 0) + 1
    for status in (ModuleStatus.SHAPE_DIFFERS, ModuleStatus.ONLY_A, ModuleStatus.ONLY_B):
        if counts.get(status):
            n = counts[status]
            parts.append(f"{n} module{'s' if n != 1 else ''} {status.value}")
    if counts.get(ModuleStatus.SAME) == len(modules):
        parts.append("all shapes the same")
    return ", ".join(parts)


def side_for(version: Version, checkpoint: Checkpoint | None = None) -> Side:
    """Load what a comparison needs for a version or one of its checkpoints (headers only)."""
    if checkpoint is None:
        return Side(
            version.id,
            version,
            None,
            version.adapter,
            version.adapter_config,
            _missing_reason(version.path, version.adapter),
        )
    folder = checkpoint.path
    adapter, error = _read_adapter_or_reason(folder / ADAPTER_WEIGHTS)
    try:
        config: Mapping[str, Any] = read_json_object(folder / ADAPTER_CONFIG, limit=1024 * 1024)
    except ReadError:
        config = version.adapter_config
    return Side(f"{version.id}/{checkpoint.name}", version, checkpoint, adapter, config, error)


def _read_adapter_or_reason(path: Path) -> tuple[AdapterInfo | None, str | None]:
    try:
        return read_adapter(path), None
    except ReadError as exc:
        return None, f"{path.parent.name}/{path.name}: {exc}"


def _missing_reason(folder: Path, adapter: AdapterInfo | None) -> str | None:
    return None if adapter is not None else f"{folder.name}/{ADAPTER_WEIGHTS}: no adapter"


def compare(a: Side, b: Side) -> Comparison:
    """Compare two sides: all settings (with `differs`) and the module diff."""
    return Comparison(
        a=a,
        b=b,
        settings=diff_mappings(settings_of(a), settings_of(b)),
        modules=diff_modules(a.adapter, b.adapter),
    )
