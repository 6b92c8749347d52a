"""The version model: frozen dataclasses built from what lies on disk.

Everything here is plain data. Readers (`scan`, `history`, `safetensors_header`) build
these objects; the app and the CLI only read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


def _empty() -> Mapping[str, Any]:
    return EMPTY


class Status(enum.StrEnum):
    """Lifecycle of a version, as shown in the tree and reported by `--check`."""

    COMPLETED = "completed"
    RUNNING = "running"
    QUEUED = "queued"  # waiting for its device; its process is alive and waiting
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"
    DAMAGED = "damaged"

    @property
    def live(self) -> bool:
        """Running or queued: a process owns the version (never offered for deletion)."""
        return self in (Status.RUNNING, Status.QUEUED)

    @classmethod
    def parse(cls, value: object) -> Status | None:
        """The status named by `value`, or None when it names none."""
        if isinstance(value, str):
            try:
                return cls(value.strip().lower())
            except ValueError:
                return None
        return None


class Layout(enum.StrEnum):
    """Which on-disk convention a version was recognised by."""

    FTUI = "ftui"  # metadata_<id>.json with schema_version
    TUTORIAL = "tutorial"  # metadata_<id>.json without schema_version
    TRAINER = "trainer"  # a plain Hugging Face Trainer output folder, no metadata


@dataclass(frozen=True, slots=True)
class TensorInfo:
    """One tensor of a safetensors file, from its header only."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    offset: int = 0  # where its bytes begin, counted from the start of the data section


@dataclass(frozen=True, slots=True)
class LoraModule:
    """The LoRA pair of one adapted module (e.g. `transformer.h.0.attn.c_attn`)."""

    name: str
    a_shape: tuple[int, ...] | None
    b_shape: tuple[int, ...] | None
    a_tensor: str | None = None  # the tensor names in the file, to load their data
    b_tensor: str | None = None

    @property
    def rank(self) -> int | None:
        """The rank: rows of A (r × in), else columns of B (out × r)."""
        if self.a_shape and len(self.a_shape) == 2:
            return self.a_shape[0]
        if self.b_shape and len(self.b_shape) == 2:
            return self.b_shape[1]
        return None


@dataclass(frozen=True, slots=True)
class AdapterInfo:
    """What the header of `adapter_model.safetensors` says, validated."""

    path: Path
    file_size: int
    tensors: tuple[TensorInfo, ...]
    modules: tuple[LoraModule, ...]
    header_metadata: Mapping[str, str] = field(default_factory=_empty)
    ranks: frozenset[int] = frozenset()  # every distinct rank among the LoRA modules
    data_start: int = 0  # file offset of the data section (8 + header length)

    def tensor(self, name: str) -> TensorInfo | None:
        for info in self.tensors:
            if info.name == name:
                return info
        return None

    @property
    def parameter_count(self) -> int:
        total = 0
        for tensor in self.tensors:
            count = 1
            for dim in tensor.shape:
                count *= dim
            total += count
        return total


@dataclass(frozen=True, slots=True)
class LoraSettings:
    """LoRA hyperparameters, from the metadata and/or adapter_config.json.

    Built by `folder_weights.lora_settings`, the one precedence rule (adapter_config.json
    wins, the metadata fills its gaps) that the tree, `ftui inspect` and a retrain share.
    """

    r: int | None = None
    alpha: float | None = None
    dropout: float | None = None
    target_modules: tuple[str, ...] = ()
    use_rslora: bool | None = None
    bias: str | None = None

    def known(self) -> dict[str, Any]:
        """The settings that are known (not None or empty), by field name, which is also
        the name a training spec uses; target modules sorted, as a list."""
        values: dict[str, Any] = {
            "r": self.r,
            "alpha": self.alpha,
            "dropout": self.dropout,
            "target_modules": sorted(self.target_modules) or None,
            "use_rslora": self.use_rslora,
            "bias": self.bias,
        }
        return {name: value for name, value in values.items() if value is not None}

    def short(self) -> str:
        """`r8/a16`-style summary for one-line displays."""
        r = "?" if self.r is None else str(self.r)
        if self.alpha is None:
            return f"r{r}"
        alpha = int(self.alpha) if float(self.alpha).is_integer() else self.alpha
        return f"r{r}/a{alpha}"


@dataclass(frozen=True, slots=True)
class Metrics:
    """Summary losses of a run; any may be unknown."""

    final_train_loss: float | None = None
    best_train_loss: float | None = None
    final_eval_loss: float | None = None
    best_eval_loss: float | None = None
    best_epoch: float | None = None


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a version, naming the file it is about."""

    file: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.reason}" if self.file else self.reason


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A `checkpoint-<step>/` folder inside a version."""

    name: str
    path: Path
    step: int
    epoch: float | None = None
    train_loss: float | None = None
    eval_loss: float | None = None
    kind: str = "lora"  # see `Version.kind`
    problems: tuple[Problem, ...] = ()  # also among its version's problems
    # its own adapter_config.json, as read, and the LoRA settings from it (else from the
    # metadata); not compared, so a Checkpoint stays hashable
    adapter_config: Mapping[str, Any] = field(default_factory=_empty, compare=False)
    lora: LoraSettings = field(default_factory=LoraSettings, compare=False)

    @property
    def label(self) -> str:
        epoch = f"epoch {self.epoch:g}" if self.epoch is not None else "epoch ?"
        return f"{self.name} ({epoch})"


@dataclass(frozen=True, slots=True)
class Parent:
    """Lineage: which version (and checkpoint) a run started from."""

    version_id: str
    checkpoint: str | None = None
    mode: str = "fresh"  # "fresh": same settings from the base model; "continue": from its weights


@dataclass(frozen=True, slots=True)
class Version:
    """One training run: a folder of adapter weights plus its metadata."""

    id: str
    path: Path
    metadata_path: Path | None
    layout: Layout
    status: Status
    created: float | None = None  # POSIX seconds
    base_model: str | None = None
    lora: LoraSettings = field(default_factory=LoraSettings)
    training_args: Mapping[str, Any] = field(default_factory=_empty)
    metrics: Metrics = field(default_factory=Metrics)
    checkpoints: tuple[Checkpoint, ...] = ()
    parent: Parent | None = None
    tags: tuple[str, ...] = ()
    notes: str = ""
    num_samples: int | None = None
    num_epochs: float | None = None
    data_fingerprint: str | None = None
    library_versions: Mapping[str, str] = field(default_factory=_empty)
    error: str | None = None
    adapter: AdapterInfo | None = None
    adapter_config: Mapping[str, Any] = field(default_factory=_empty)
    metadata: Mapping[str, Any] = field(default_factory=_empty)
    problems: tuple[Problem, ...] = ()
    # What its weights are: "lora" (an adapter), "merged" (a full model, no adapter),
    # "pickle" (adapter_model.bin: never unpickled, so not read), "" (no weights found).
    kind: str = "lora"
    # aliases (root's aliases.json) naming this version -> None, or one of its checkpoints
    aliases: Mapping[str, str | None] = field(default_factory=_empty)

    @property
    def recorded_spec(self) -> Mapping[str, Any]:
        """The training spec an ftui run recorded in its metadata (empty for others)."""
        spec = self.metadata.get("spec")
        return spec if isinstance(spec, Mapping) else EMPTY

    @property
    def weights_label(self) -> str:
        """`r8/a16` for an adapter; `merged` for a full model and `pickle` for an unread
        adapter_model.bin when no LoRA settings are known."""
        if self.kind in ("merged", "pickle") and self.lora.r is None:
            return self.kind
        return self.lora.short()

    @property
    def final_loss(self) -> float | None:
        """The loss users mean by "final": eval when there is one, else train."""
        m = self.metrics
        return m.final_eval_loss if m.final_eval_loss is not None else m.final_train_loss

    def checkpoint(self, name: str) -> Checkpoint | None:
        for ckpt in self.checkpoints:
            if ckpt.name == name:
                return ckpt
        return None
