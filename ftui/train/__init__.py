"""The training engine: specs, `run_training`, retraining, CLI handlers.

Importing this package is cheap: names resolve on first use (PEP 562), and torch,
transformers, peft, trl and datasets are imported only inside the functions that train.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import RunResult, run_training
    from .retrain import spec_for_retrain
    from .spec import BUILTIN_MODEL, RunSpec, SpecError

_LAZY = {
    "RunSpec": "spec",
    "SpecError": "spec",
    "BUILTIN_MODEL": "spec",
    "run_training": "engine",
    "RunResult": "engine",
    "spec_for_retrain": "retrain",
}

__all__ = ["BUILTIN_MODEL", "RunResult", "RunSpec", "SpecError", "run_training", "spec_for_retrain"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
