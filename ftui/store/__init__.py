"""The version store: read and write versions on disk.

Pure Python (standard library only at import): never imports textual, torch,
transformers, peft or trl, so it loads in milliseconds and tests need no terminal or GPU.
"""

from .check import CheckedVersion, CheckReport, check_root, check_version
from .compare import Comparison, ModuleDiff, ModuleStatus, SettingDiff, Side, compare, side_for
from .disk import delete, human_size, removal_plan, version_size, walk_files
from .history import LossHistory, LossPoint, load_history
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
from .safetensors_header import read_adapter
from .scan import RootError, iter_versions, scan
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

__all__ = [
    "AdapterInfo", "CheckReport", "CheckedVersion", "Checkpoint", "Comparison", "Layout",
    "LossHistory", "LossPoint", "LoraModule", "LoraSettings", "Metrics", "ModuleDiff",
    "ModuleStatus", "Parent", "Problem", "ReadError", "RootError", "SettingDiff", "Side",
    "Status", "TensorInfo", "Version", "WriteError", "check_root", "check_version",
    "claim_version", "compare", "create_metadata", "delete", "human_size", "iter_versions",
    "load_history", "metadata_path", "one_line", "read_adapter", "removal_plan", "safe_text",
    "scan", "set_notes", "set_status", "set_tags", "side_for", "update_metadata",
    "version_size", "walk_files",
]  # fmt: skip
