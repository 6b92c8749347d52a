"""The run specification: everything needed to (re)build a training run.

A `RunSpec` is plain data. It is validated before anything heavy is imported (so a bad
setting costs milliseconds, not a torch import), recorded in full in the version's
metadata (`spec`), and rebuilt from there to retrain. Pure standard library.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from .data import DataError, is_hub_dataset, read_source
from .paths import BUILTIN_MODEL, DEMO_EVAL, DEMO_TRAIN, is_ref, local_path, looks_like_hub_id

__all__ = ["BUILTIN_MODEL", "DEMO_EVAL", "DEMO_TRAIN", "RunSpec", "SpecError"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
BIASES = ("none", "all", "lora_only")

ALIASES: Mapping[str, str] = {
    "lr": "learning_rate",
    "lora_alpha": "alpha",
    "lora_r": "r",
    "rank": "r",
    "lora_dropout": "dropout",
    "num_epochs": "epochs",
    "num_train_epochs": "epochs",
    "model": "base_model",
    "model_name": "base_model",
    "base_model_name_or_path": "base_model",
    "dataset": "data",
    "train_data": "data",
    "eval": "eval_data",
    "eval_file": "eval_data",
    "batch": "batch_size",
    "per_device_train_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum",
    "max_seq_length": "max_length",
    "targets": "target_modules",
    "target": "target_modules",
    "nproc": "nproc_per_node",
    "num_nodes": "nnodes",
}

# Settings `--set` refuses, and what to use instead.
NOT_SETTABLE: Mapping[str, str] = {
    "root": "use --root DIR",
    "parent": "use `ftui retrain VERSION` to start from a version",
    "parent_checkpoint": "use `ftui retrain VERSION --from-checkpoint N`",
    "continue_from_parent": "use `ftui retrain VERSION --continue`",
}
# Upper bounds no real run reaches: a typo such as r=1e9 or batch_size=1e12 is refused
# before a version is claimed, not discovered as an out-of-memory error later.
LIMITS: Mapping[str, float] = {
    "r": 4096,
    "batch_size": 65536,
    "grad_accum": 65536,
    "max_length": 1 << 20,
    "epochs": 10_000,
    "nproc_per_node": 1024,
    "nnodes": 100_000,
    "logging_steps": 1 << 30,
    "alpha": 1e6,
}

_NONE_WORDS = frozenset({"", "none", "null", "auto", "default"})
_TRUE = frozenset({"1", "true", "yes", "on", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "n"})


class SpecError(ValueError):
    """A run specification is unusable; `str()` is a one-line reason naming the setting."""


def _parse_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, int):
        return value
    try:
        number = float(str(value).strip()) if not isinstance(value, float) else value
    except ValueError:
        raise SpecError(f"{name}: expected an integer, got {value!r}") from None
    if not math.isfinite(number) or number != int(number):
        raise SpecError(f"{name}: expected an integer, got {value!r}")
    return int(number)


def _parse_float(name: str, value: object) -> float:
    if isinstance(value, bool):
        raise SpecError(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SpecError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(number):
        raise SpecError(f"{name}: expected a finite number, got {value!r}")
    return number


def _parse_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise SpecError(f"{name}: expected true or false, got {value!r}")


def _parse_optional_str(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str | int | float):
        raise SpecError(f"{name}: expected text, got {type(value).__name__}")
    text = str(value).strip()
    return None if text.lower() in _NONE_WORDS else text


def _parse_str(name: str, value: object) -> str:
    text = _parse_optional_str(name, value) if not isinstance(value, str) else value.strip()
    if not text:
        raise SpecError(f"{name}: must not be empty")
    return text


def _parse_modules(name: str, value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().strip("[]")
        if text.lower() in _NONE_WORDS:
            return None
        items = [p.strip().strip("'\"") for p in text.replace(",", " ").split()]
    elif isinstance(value, list | tuple):
        items = [str(p).strip() for p in value]
    else:
        raise SpecError(f"{name}: expected a list of module names, got {value!r}")
    items = [p for p in items if p]
    if not items:
        raise SpecError(f"{name}: expected at least one module name")
    return list(dict.fromkeys(items))


def model_width(config_path: Path) -> int | None:
    """The hidden size a local model's config.json gives (None when it says none)."""
    try:
        with open(config_path, "rb") as handle:
            config = json.loads(handle.read(1 << 20))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(config, dict):
        return None
    for key in ("hidden_size", "n_embd", "d_model"):
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


_PARSERS = {
    "int": _parse_int,
    "float": _parse_float,
    "bool": _parse_bool,
    "str": _parse_str,
    "path": _parse_str,
    "optional": _parse_optional_str,
    "list": _parse_modules,
}


@dataclass
class RunSpec:
    """One training run, as the user asked for it.

    `base_model`: a local folder, a Hub id, or `ftui:tiny-gpt2` (built in, offline).
    `data` / `eval_data`: a `.jsonl`/`.json`/`.txt` file or a folder of them, or a Hub id.
    `target_modules=None` picks the architecture's usual attention projections.
    `parent`/`parent_checkpoint`: the version (and checkpoint) this run was derived from;
    with `continue_from_parent` training starts from that adapter's weights.
    """

    base_model: str = BUILTIN_MODEL
    data: str = DEMO_TRAIN
    eval_data: str | None = DEMO_EVAL
    eval_split: float = 0.0
    text_field: str = "text"
    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.05
    target_modules: list[str] | None = None
    use_rslora: bool = False
    bias: str = "none"
    epochs: float = 3.0
    learning_rate: float = 2e-4
    batch_size: int = 8
    grad_accum: int = 1
    max_length: int = 512
    seed: int = 42
    precision: str = "auto"
    device: str = "auto"
    logging_steps: int = 0
    nproc_per_node: int = 1
    nnodes: int = 1
    rdzv_endpoint: str | None = None
    accelerate_config: str | None = None
    root: str = "model_versions"
    parent: str | None = None
    parent_checkpoint: str | None = None
    continue_from_parent: bool = False

    # name -> (label, type) in the order a form shows them
    FIELD_INFO: ClassVar[dict[str, tuple[str, str]]] = {
        "base_model": ("Base model (path, hub id or ftui:tiny-gpt2)", "path"),
        "data": ("Training data (.jsonl/.txt/folder)", "path"),
        "eval_data": ("Eval data (empty: none)", "optional"),
        "eval_split": ("Eval split (0-0.5, when no eval data)", "float"),
        "text_field": ("Text field", "str"),
        "r": ("LoRA rank r", "int"),
        "alpha": ("LoRA alpha", "float"),
        "dropout": ("LoRA dropout", "float"),
        "target_modules": ("Target modules (empty: architecture default)", "list"),
        "use_rslora": ("Rank-stabilised LoRA", "bool"),
        "bias": ("Bias (none/all/lora_only)", "str"),
        "epochs": ("Epochs", "float"),
        "learning_rate": ("Learning rate", "float"),
        "batch_size": ("Batch size per device", "int"),
        "grad_accum": ("Gradient accumulation steps", "int"),
        "max_length": ("Max length (tokens)", "int"),
        "seed": ("Seed", "int"),
        "precision": ("Precision (auto/fp32/bf16/fp16)", "str"),
        "device": ("Device (auto/cpu/cuda)", "str"),
        "logging_steps": ("Log every N steps (0: auto)", "int"),
        "nproc_per_node": ("Processes per node (GPUs; >1 launches torchrun)", "int"),
        "nnodes": ("Nodes (>1 needs the rendezvous endpoint)", "int"),
        "rdzv_endpoint": ("Rendezvous endpoint HOST:PORT (multi-node)", "optional"),
        "accelerate_config": ("accelerate config file (FSDP/DeepSpeed; empty: none)", "optional"),
        "root": ("Version root", "path"),
        "parent": ("Parent version", "optional"),
        "parent_checkpoint": ("Parent checkpoint", "optional"),
        "continue_from_parent": ("Continue from the parent's adapter", "bool"),
    }
    EDITABLE: ClassVar[tuple[str, ...]] = (
        "base_model", "data", "eval_data", "eval_split", "text_field", "r", "alpha",
        "dropout", "target_modules", "epochs", "learning_rate", "batch_size", "grad_accum",
        "max_length", "seed", "precision", "device", "nproc_per_node", "nnodes",
        "rdzv_endpoint", "accelerate_config",
    )  # fmt: skip

    @classmethod
    def defaults(cls, root: str | os.PathLike[str] = "model_versions") -> RunSpec:
        """The built-in model on the demo data: trains offline on a CPU in seconds."""
        return cls(root=str(root))

    @classmethod
    def editable_fields(cls) -> list[tuple[str, str, str]]:
        """(name, label, type) for a form; type is int, float, str, bool, list, path or
        optional (a string where empty means none). Values go back through `with_overrides`."""
        return [(name, *cls.FIELD_INFO[name]) for name in cls.EDITABLE]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def to_dict(self) -> dict[str, Any]:
        record = asdict(self)
        record["target_modules"] = list(self.target_modules) if self.target_modules else None
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """Rebuild a spec from `to_dict()` output; unknown keys are ignored, missing ones
        take their defaults, and values are parsed as `with_overrides` parses them."""
        known = set(cls.field_names())
        values = {k: v for k, v in data.items() if k in known}
        return cls().with_overrides(values)

    @staticmethod
    def canonical_name(key: str) -> str:
        """The field a setting name (or one of its aliases) refers to; raises SpecError."""
        name = key.strip().lower().replace("-", "_")
        name = ALIASES.get(name, name)
        if name not in RunSpec.FIELD_INFO:
            known = ", ".join(RunSpec.FIELD_INFO)
            raise SpecError(f"unknown setting {key!r} (known: {known})")
        return name

    @staticmethod
    def settable_name(key: str) -> str:
        """Like `canonical_name`, for a user's `--set KEY=…`: lineage and the root have
        their own flags (a `--set` for them would be overwritten, i.e. silently ignored),
        so they are refused, naming the flag to use."""
        name = RunSpec.canonical_name(key)
        if name in NOT_SETTABLE:
            raise SpecError(f"--set {key}: not a setting; {NOT_SETTABLE[name]}")
        return name

    def with_overrides(self, overrides: Mapping[str, Any]) -> RunSpec:
        """A copy with `overrides` applied; string values are parsed per field type."""
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            name = self.canonical_name(key)
            kind = self.FIELD_INFO[name][1]
            changes[name] = _PARSERS[kind](name, value)
        # A new training set without an eval set of its own must not be evaluated on the
        # demo data the defaults point at.
        if "data" in changes and "eval_data" not in changes and self.eval_data == DEMO_EVAL:
            changes["eval_data"] = None if changes["data"] != DEMO_TRAIN else DEMO_EVAL
        return replace(self, **changes)

    def normalized(self) -> RunSpec:
        """A copy whose local paths are absolute, so the recorded spec works from any
        directory; `ftui:` references and Hub ids are kept as they are."""

        def absolute(value: str | None) -> str | None:
            if value is None or is_ref(value):
                return value
            path = local_path(value)
            return str(path) if path is not None else value

        return replace(
            self,
            base_model=absolute(self.base_model) or self.base_model,
            data=absolute(self.data) or self.data,
            eval_data=absolute(self.eval_data),
            accelerate_config=absolute(self.accelerate_config),
            root=str(Path(self.root).expanduser().resolve()),
        )

    def summary(self, max_length: int | None = None) -> str:
        """One line for logs: model, data and the settings that matter most (`max_length`:
        the one in use, when the model's positions cut the asked-for one)."""
        targets = ",".join(self.target_modules) if self.target_modules else "auto"
        return (
            f"{self.base_model} on {self.data}: r={self.r} alpha={self.alpha:g} "
            f"dropout={self.dropout:g} targets={targets} epochs={self.epochs:g} "
            f"lr={self.learning_rate:g} batch={self.batch_size}x{self.grad_accum} "
            f"max_length={max_length or self.max_length} seed={self.seed}"
        )

    # -- validation ------------------------------------------------------------------

    def validate(self, check_data: bool = True) -> None:
        """Raise `SpecError` with a one-line reason for the first unusable setting.

        Cheap checks only (no torch): numbers in range, the base model folder and the
        dataset exist and parse, the root is writable. What needs the model itself
        (unknown target modules, a corrupt checkpoint) is checked by the engine.
        """
        self._check_numbers()
        self._check_choices()
        self._check_model()
        if check_data:
            self._check_data()
        self._check_launch()
        self._check_root()
        if (self.parent_checkpoint or self.continue_from_parent) and not self.parent:
            raise SpecError("parent_checkpoint/continue_from_parent need a parent version")

    @property
    def world_size(self) -> int:
        """Processes the run asks for over all nodes (1: no launcher)."""
        return self.nproc_per_node * self.nnodes

    @property
    def global_batch(self) -> int:
        """Examples per optimizer step over all processes."""
        return self.batch_size * self.grad_accum * self.world_size

    @property
    def needs_launcher(self) -> bool:
        """Whether the run goes through torchrun or `accelerate launch` (ftui/train/launch.py)."""
        return self.world_size > 1 or self.accelerate_config is not None

    def _check_launch(self) -> None:
        if self.nnodes > 1 and not self.rdzv_endpoint and not self.accelerate_config:
            raise SpecError(
                f"nnodes={self.nnodes} needs --rdzv-endpoint HOST:PORT (the node running rank 0)"
            )
        if self.rdzv_endpoint is not None:
            host, sep, port = self.rdzv_endpoint.rpartition(":")
            if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise SpecError(
                    f"rdzv_endpoint {self.rdzv_endpoint!r}: expected HOST:PORT, e.g. node0:29500"
                )
        if self.accelerate_config is not None:
            path = Path(self.accelerate_config).expanduser()
            if not path.is_file():
                raise SpecError(f"accelerate config {self.accelerate_config}: no such file")
            import importlib.util

            if importlib.util.find_spec("accelerate") is None:
                raise SpecError("accelerate_config needs accelerate: pip install accelerate")

    def _check_numbers(self) -> None:
        for name in ("r", "batch_size", "grad_accum", "nproc_per_node", "nnodes"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise SpecError(f"{name} must be a positive integer, got {value!r}")
        for name in ("alpha", "epochs", "learning_rate"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise SpecError(f"{name} must be a positive number, got {value!r}")
        if not 0 <= self.dropout < 1:
            raise SpecError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if not 0 <= self.eval_split < 1:
            raise SpecError(f"eval_split must be in [0, 1), got {self.eval_split!r}")
        if self.learning_rate >= 1:
            raise SpecError(
                f"learning_rate {self.learning_rate:g} is far too large (use e.g. 2e-4)"
            )
        if self.max_length < 8:
            raise SpecError(f"max_length must be at least 8 tokens, got {self.max_length!r}")
        if self.seed < 0 or self.logging_steps < 0:
            raise SpecError("seed and logging_steps must not be negative")
        for name, limit in LIMITS.items():
            if getattr(self, name) > limit:
                raise SpecError(
                    f"{name}={getattr(self, name):g} is beyond any real run (at most {limit:g})"
                )
        if self.target_modules is not None and (
            not self.target_modules
            or not all(isinstance(m, str) and m for m in self.target_modules)
        ):
            raise SpecError(f"target_modules must be module names, got {self.target_modules!r}")

    def _check_choices(self) -> None:
        for name, allowed in (("precision", PRECISIONS), ("device", DEVICES), ("bias", BIASES)):
            if getattr(self, name) not in allowed:
                raise SpecError(
                    f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}"
                )
        if self.device == "cpu" and self.precision == "fp16":
            raise SpecError("precision fp16 needs a CUDA device; use fp32 (or auto) on the CPU")
        if not self.text_field.strip():
            raise SpecError("text_field must not be empty")

    def _check_model(self) -> None:
        model = self.base_model.strip()
        if not model:
            raise SpecError("base_model must not be empty")
        path = local_path(model)
        if is_ref(model) and path is None:
            raise SpecError(f"base model {model}: no such built-in model (use {BUILTIN_MODEL})")
        if path is None:
            if looks_like_hub_id(model):
                return  # a Hub id: resolved (or refused, offline) when the engine loads it
            raise SpecError(f"base model not found: {model} (no such folder)")
        if not path.is_dir():
            raise SpecError(f"base model {model}: expected a model folder, found a file")
        if not (path / "config.json").is_file():
            raise SpecError(f"base model {model}: no config.json in this folder")
        width = model_width(path / "config.json")
        if width is not None and self.r > width:
            raise SpecError(
                f"r={self.r} is larger than the model's hidden size ({width}): "
                f"a rank can be at most {width}"
            )

    def _check_data(self) -> None:
        for value, role in ((self.data, "dataset"), (self.eval_data, "eval dataset")):
            if value is None:
                continue
            if is_hub_dataset(value):
                continue  # loaded through `datasets` by the engine
            try:
                texts = read_source(value, self.text_field, role)
            except DataError as exc:
                raise SpecError(str(exc)) from None
            if role == "dataset" and self.eval_split > 0 and len(texts) < 2:
                raise SpecError(f"dataset {value}: too few examples to hold out an eval split")

    def _check_root(self) -> None:
        root = Path(self.root).expanduser()
        probe = root
        while not probe.exists():
            if probe.parent == probe:
                break
            probe = probe.parent
        if probe.exists() and not probe.is_dir():
            raise SpecError(f"version root {self.root}: {probe} is a file, not a folder")
        if not os.access(probe, os.W_OK | os.X_OK):
            raise SpecError(f"version root {self.root} is not writable")
