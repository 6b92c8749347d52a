"""The version store: read and write versions on disk.

Pure Python (standard library, plus numpy in `lora_math` only): never imports textual,
torch, transformers, peft or trl, so tests need no terminal or GPU. Names are loaded on
first use (PEP 562), so `import ftui.store` costs almost nothing and `from ftui.store
import scan` loads only what scanning needs.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows it)

_EXPORTS: dict[str, str] = {
    "CheckedVersion": "check", "CheckReport": "check", "check_root": "check",
    "check_version": "check",
    "Comparison": "comparison", "ModuleDiff": "comparison", "ModuleStatus": "comparison",
    "SettingDiff": "comparison", "Side": "comparison", "compare": "comparison",
    "side_for": "comparison",
    "delete": "disk", "human_size": "disk", "removal_plan": "disk", "version_size": "disk",
    "walk_files": "disk", "Refused": "disk",
    "id_problem": "ids", "is_valid_id": "ids",
    "LossHistory": "history", "LossPoint": "history", "load_history": "history",
    "ReadError": "jsonio",
    "Resolved": "naming", "UnknownVersion": "naming", "find_version": "naming",
    "resolve_version": "naming",
    "AdapterInfo": "model", "Checkpoint": "model", "Layout": "model", "LoraModule": "model",
    "LoraSettings": "model", "Metrics": "model", "Parent": "model", "Problem": "model",
    "Status": "model", "TensorInfo": "model", "Version": "model",
    "read_adapter": "safetensors_header",
    "RootError": "scanner", "iter_versions": "scanner", "scan": "scanner",
    "one_line": "text", "safe_text": "text",
    "WriteError": "writer", "claim_version": "writer", "create_metadata": "writer",
    "metadata_path": "writer", "set_notes": "writer", "set_status": "writer",
    "set_tags": "writer", "update_metadata": "writer",
}  # fmt: skip

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> object:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftui.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from .check import CheckedVersion, CheckReport, check_root, check_version
    from .comparison import (
        Comparison,
        ModuleDiff,
        ModuleStatus,
        SettingDiff,
        Side,
        compare,
        side_for,
    )
    from .disk import Refused, delete, human_size, removal_plan, version_size, walk_files
    from .history import LossHistory, LossPoint, load_history
    from .ids import id_problem, is_valid_id
    from .jsonio import ReadError
    from .model import (
        AdapterInfo,
        Checkpoint,
        Layout,
        LoraModule,
        LoraSettings,
        Metrics,
        Parent,
        Problem,
        Status,
        TensorInfo,
        Version,
    )
    from .naming import Resolved, UnknownVersion, find_version, resolve_version
    from .safetensors_header import read_adapter
    from .scanner import RootError, iter_versions, scan
    from .text import one_line, safe_text
    from .writer import (
        WriteError,
        claim_version,
        create_metadata,
        metadata_path,
        set_notes,
        set_status,
        set_tags,
        update_metadata,
    )
