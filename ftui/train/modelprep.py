"""Preparing the model side of a run: hardware, base model, LoRA wrapping, trainer args.

Every function imports torch/transformers/peft inside itself. Errors that the user can fix
are raised as `SpecError` with a one-line reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftui.store.naming import version_folder

from .paths import BUILTIN_MODEL, local_path
from .spec import RunSpec, SpecError

MAX_LISTED_MODULES = 8


@dataclass(frozen=True)
class Hardware:
    device: str  # "cpu" or "cuda"
    precision: str  # "fp32", "bf16" or "fp16"

    @property
    def torch_dtype_name(self) -> str:
        return {"bf16": "bfloat16", "fp16": "float16"}.get(self.precision, "float32")


def resolve_hardware(spec: RunSpec) -> Hardware:
    """CUDA when present (or asked for), bf16 only where the GPU supports it."""
    import torch

    has_cuda = torch.cuda.is_available()
    device = spec.device if spec.device != "auto" else ("cuda" if has_cuda else "cpu")
    if device == "cuda" and not has_cuda:
        raise SpecError("device cuda was asked for but no CUDA GPU is available")
    bf16_ok = has_cuda and device == "cuda" and torch.cuda.is_bf16_supported()
    precision = spec.precision
    if precision == "auto":
        precision = "bf16" if bf16_ok else ("fp16" if device == "cuda" else "fp32")
    if precision == "bf16" and not bf16_ok:
        where = "the CPU" if device == "cpu" else "this GPU"
        raise SpecError(f"precision bf16 is not supported on {where}; use fp32 or auto")
    if precision == "fp16" and device != "cuda":
        raise SpecError("precision fp16 needs a CUDA device; use fp32 or auto")
    return Hardware(device=device, precision=precision)


def model_location(reference: str) -> tuple[str, bool]:
    """(what to pass to from_pretrained, whether it is local)."""
    path = local_path(reference)
    return (str(path), True) if path is not None else (reference, False)


def recorded_base(reference: str) -> str:
    """What adapter_config.json records as its base: a reference that
    `AutoModelForCausalLM.from_pretrained(version_folder)` resolves, the way the tutorial
    loads a version back. Local folders (the built-in `ftui:` model included: its folder
    inside this package) as absolute paths, else the hub id. The metadata keeps the
    reference as the user gave it (`model_name`), which ftui resolves on any machine."""
    path = local_path(reference)
    return str(path) if path is not None else reference


def load_tokenizer(reference: str) -> Any:
    from transformers import AutoTokenizer

    location, is_local = model_location(reference)
    tokenizer = AutoTokenizer.from_pretrained(location, local_files_only=is_local)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base_model(reference: str, hardware: Hardware) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    location, is_local = model_location(reference)
    dtype = getattr(torch, hardware.torch_dtype_name)
    model = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, local_files_only=is_local)
    model.config.use_cache = False  # no KV cache while training
    return model


def max_positions(model: Any) -> int | None:
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _adaptable_modules(model: Any) -> dict[str, Any]:
    """Leaf modules LoRA can wrap (Linear, GPT-2's Conv1D, Embedding), by full name."""
    import torch
    from transformers.pytorch_utils import Conv1D

    kinds = (torch.nn.Linear, Conv1D, torch.nn.Embedding)
    return {name: mod for name, mod in model.named_modules() if isinstance(mod, kinds)}


def resolve_targets(model: Any, asked: list[str] | None) -> tuple[list[str], bool]:
    """(target module names, fan_in_fan_out) for this model, checked against its modules.

    `None` takes peft's default for the architecture (GPT-2: `c_attn`; Llama-style:
    `q_proj`, `v_proj`). fan_in_fan_out is True when the targets are GPT-2 Conv1D layers.
    """
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS
    from transformers.pytorch_utils import Conv1D

    modules = _adaptable_modules(model)
    short_names = sorted({name.rsplit(".", 1)[-1] for name in modules})
    model_type = getattr(model.config, "model_type", "?")
    if asked is None:
        targets = list(DEFAULTS.get(model_type, []))
        if not targets:
            raise SpecError(
                f"no default LoRA target modules for model type {model_type!r}; set target_modules "
                f"(layers: {', '.join(short_names[:MAX_LISTED_MODULES])})"
            )
    else:
        targets = list(asked)
    matched: list[Any] = []
    for target in targets:
        hits = [m for n, m in modules.items() if n == target or n.endswith("." + target)]
        if not hits:
            listed = ", ".join(short_names[:MAX_LISTED_MODULES])
            raise SpecError(f"unknown target module {target!r} for {model_type} (layers: {listed})")
        matched += hits
    fan_in_fan_out = any(isinstance(m, Conv1D) for m in matched)
    return targets, fan_in_fan_out


def wrap_fresh(model: Any, spec: RunSpec, targets: list[str], fan_in_fan_out: bool) -> Any:
    from peft import LoraConfig, get_peft_model

    settings: dict[str, Any] = {
        "r": spec.r,
        "lora_alpha": spec.alpha,  # peft annotates int; a float alpha works and is kept
        "lora_dropout": spec.dropout,
        "target_modules": targets,
        "fan_in_fan_out": fan_in_fan_out,
        "bias": spec.bias,
        "use_rslora": spec.use_rslora,
        "task_type": "CAUSAL_LM",
    }
    return get_peft_model(model, LoraConfig(**settings))


def parent_folder(root: Path, version_id: str) -> Path:
    """The folder of version `version_id` under `root` (or `root` itself when it is a
    Trainer output folder read as one version)."""
    folder = version_folder(root, version_id)
    if folder.is_dir():
        return folder
    raise SpecError(f"parent version {version_id}: no folder in {root}")


def parent_adapter_dir(spec: RunSpec) -> Path:
    assert spec.parent is not None
    folder = parent_folder(Path(spec.root), spec.parent)
    if spec.parent_checkpoint:
        folder = folder / spec.parent_checkpoint
    if not (folder / "adapter_config.json").is_file():
        raise SpecError(f"parent {spec.parent}: no adapter to continue from in {folder}")
    return folder


def wrap_continued(model: Any, spec: RunSpec, adapter_dir: Path) -> Any:
    """Load the parent's adapter weights (trainable) to continue training them."""
    from peft import PeftModel

    peft_model = PeftModel.from_pretrained(model, str(adapter_dir), is_trainable=True)
    loaded: Any = peft_model.peft_config["default"]
    for name, have, want in (
        ("r", loaded.r, spec.r),
        ("alpha", loaded.lora_alpha, spec.alpha),
        ("dropout", loaded.lora_dropout, spec.dropout),
    ):
        if not math.isclose(float(have), float(want)):
            raise SpecError(
                f"continue: the parent adapter has {name}={have:g} but {name}={want:g} was asked; "
                "train fresh (without --continue) to change it"
            )
    if spec.target_modules is not None and set(spec.target_modules) != set(loaded.target_modules):
        raise SpecError("continue: target_modules differ from the parent adapter's; train fresh")
    return peft_model


def lora_record(peft_model: Any) -> dict[str, Any]:
    """The `lora_config` metadata entry, from the config actually used."""
    config = peft_model.peft_config["default"]
    targets = config.target_modules
    targets = sorted(targets) if isinstance(targets, set | list | tuple) else targets
    return {
        "r": config.r,
        "lora_alpha": config.lora_alpha,
        "lora_dropout": config.lora_dropout,
        "target_modules": targets,
        "use_rslora": bool(config.use_rslora),
        "bias": config.bias,
        "fan_in_fan_out": bool(config.fan_in_fan_out),
        "task_type": str(getattr(config.task_type, "value", config.task_type)),
    }


def trainer_arguments(
    spec: RunSpec, hardware: Hardware, num_train: int, has_eval: bool, max_length: int, world: int
) -> dict[str, Any]:
    """The SFTConfig keyword arguments (JSON-able: recorded as `training_args`)."""
    per_step = spec.batch_size * max(world, 1) * spec.grad_accum
    steps_per_epoch = max(1, math.ceil(num_train / per_step))
    logging_steps = spec.logging_steps or max(1, min(50, math.ceil(steps_per_epoch / 10)))
    args: dict[str, Any] = {
        "num_train_epochs": spec.epochs,
        "learning_rate": spec.learning_rate,
        "lr_scheduler_type": "linear",
        "warmup_steps": 0,
        "weight_decay": 0.0,
        "per_device_train_batch_size": spec.batch_size,
        "per_device_eval_batch_size": spec.batch_size,
        "gradient_accumulation_steps": spec.grad_accum,
        "max_length": max_length,
        "dataset_text_field": "text",
        "packing": False,
        "seed": spec.seed,
        "data_seed": spec.seed,
        "bf16": hardware.precision == "bf16",
        "fp16": hardware.precision == "fp16",
        "use_cpu": hardware.device == "cpu",
        "gradient_checkpointing": False,  # on by default in SFTConfig; erratic and slow here
        "save_strategy": "epoch",
        "eval_strategy": "epoch" if has_eval else "no",
        "logging_strategy": "steps",
        "logging_steps": logging_steps,
        "report_to": "none",
        "disable_tqdm": True,
        "dataloader_pin_memory": hardware.device == "cuda",
        "dataloader_num_workers": 0,
    }
    if world > 1:
        args["ddp_find_unused_parameters"] = False
    if _has_config_field("activation_checkpointing"):  # transformers 5 renamed it
        args["activation_checkpointing"] = args.pop("gradient_checkpointing")
    return args


def _has_config_field(name: str) -> bool:
    import dataclasses

    from trl import SFTConfig

    return any(f.name == name for f in dataclasses.fields(SFTConfig))


def builtin_note(reference: str) -> str:
    return " (built-in, offline)" if reference == BUILTIN_MODEL else ""
