"""How peft builds each module's update ΔW from an adapter's tensors and its config.

peft scales B·A by s = alpha / r (alpha / √r with rsLoRA), where r and alpha may be
overridden per module by `rank_pattern` / `alpha_pattern`; it transposes the product
for GPT-2's Conv1D (`fan_in_fan_out`) and for embeddings; `lora_bias` adds s·b to the
bias; DoRA rescales the merged weight by a magnitude vector. Getting any of these wrong
gives a figure that looks plausible and is not the model's update, so the rules below
copy peft's (peft/tuners/lora/layer.py `update_layer`, `get_delta_weight`;
peft/utils/other.py `get_pattern_key`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .fields import as_float, as_int
from .model import AdapterInfo, TensorInfo

PEFT_PREFIX = "base_model.model."
_PARTS = ("lora_A", "lora_B", "lora_embedding_A", "lora_embedding_B", "lora_magnitude_vector")
_PART = re.compile(r"\.(" + "|".join(_PARTS) + r")(?=\.|$)")
MAX_PATTERN_CHARS = 256  # a pattern is a regular expression from an untrusted file

LABEL_LORA = "s·B·A"
LABEL_DORA = "DoRA merged update (magnitude applied)"
LABEL_DORA_APPROX = "s·B·A (DoRA magnitude not applied)"


@dataclass(frozen=True, slots=True)
class ModuleUpdate:
    """How one module's update is made, with every factor peft applies.

    ΔW is described in nn.Linear orientation (out × in) as s·B·A; `transposed` says the
    base weight is stored the other way round (Conv1D, embeddings), so the update peft
    adds to the stored weight is its transpose.
    """

    name: str  # the module's key in the model, e.g. `transformer.h.0.attn.c_attn`
    kind: str  # "linear" or "embedding"
    a: TensorInfo  # r × in
    b: TensorInfo  # out × r
    rank: int
    alpha: float
    scale: float
    transposed: bool
    bias: TensorInfo | None = None  # lora_bias: the bias gains s·b
    magnitude: TensorInfo | None = None  # DoRA
    notes: tuple[str, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of ΔW in nn.Linear orientation."""
        return self.b.shape[0], self.a.shape[1]

    @property
    def stored_shape(self) -> tuple[int, int]:
        out, inp = self.shape
        return (inp, out) if self.transposed else (out, inp)

    @property
    def is_dora(self) -> bool:
        return self.magnitude is not None


def get_pattern_key(pattern_keys: Iterable[str], key: str) -> str | None:
    """The first pattern that matches the module key, as peft matches it: the pattern is a
    regular expression that must match the whole key or a dotted suffix of it."""
    for pattern in pattern_keys:
        if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_CHARS:
            continue
        try:
            if re.match(rf"(.*\.)?({pattern})$", key):
                return pattern
        except re.error:
            continue
    return None


def rank_and_alpha(config: Mapping[str, Any], key: str) -> tuple[int | None, float | None]:
    """r and alpha for one module: its `rank_pattern` / `alpha_pattern` entry, else global."""
    rank = as_int(config.get("r"))
    alpha = as_float(config.get("lora_alpha"))
    for field, cast in (("rank_pattern", as_int), ("alpha_pattern", as_float)):
        patterns = config.get(field)
        if isinstance(patterns, Mapping) and patterns:
            matched = get_pattern_key(patterns.keys(), key)
            if matched is not None and cast(patterns[matched]) is not None:
                if field == "rank_pattern":
                    rank = as_int(patterns[matched])
                else:
                    alpha = as_float(patterns[matched])
    return rank, alpha


def scale_for(config: Mapping[str, Any], rank: int, alpha: float) -> float:
    """s = alpha / r, or alpha / √r with rsLoRA (peft's `update_layer`)."""
    if config.get("use_rslora") is True:
        return alpha / math.sqrt(rank)
    return alpha / rank


def split_key(tensor: str) -> tuple[str, str, str] | None:
    """`base_model.model.x.lora_B.weight` -> (`x`, `lora_B`, `weight`); None if not LoRA.

    In-memory names carry the adapter name (`lora_A.default.weight`): it is skipped.
    """
    name = tensor[len(PEFT_PREFIX) :] if tensor.startswith(PEFT_PREFIX) else tensor
    matches = list(_PART.finditer(name))  # the last LoRA part follows the module's name
    match = matches[-1] if matches else None
    if match is None or match.start() == 0:
        return None
    rest = name[match.end() :].lstrip(".").split(".") if match.end() < len(name) else []
    param = rest[-1] if rest and rest[-1] in ("weight", "bias") else "weight"
    return name[: match.start()], match.group(1), param


def module_updates(adapter: AdapterInfo, config: Mapping[str, Any]) -> list[ModuleUpdate]:
    """Every adapted module of the adapter, in the file's module order, with peft's rules.

    Modules whose factors are missing or malformed are left out (the header check and
    the module table already report them).
    """
    parts: dict[str, dict[tuple[str, str], TensorInfo]] = {}
    for info in adapter.tensors:
        split = split_key(info.name)
        if split is not None:
            module, part, param = split
            parts.setdefault(module, {})[(part, param)] = info
    fan_in_fan_out = config.get("fan_in_fan_out") is True
    result = []
    order = {m.name: i for i, m in enumerate(adapter.modules)}
    for module in sorted(parts, key=lambda n: (order.get(n, len(order)), n)):
        found = parts[module]
        embedding = ("lora_embedding_A", "weight") in found
        a = found.get(("lora_embedding_A" if embedding else "lora_A", "weight"))
        b = found.get(("lora_embedding_B" if embedding else "lora_B", "weight"))
        if a is None or b is None or len(a.shape) != 2 or len(b.shape) != 2:
            continue
        if a.shape[0] != b.shape[1] or a.shape[0] == 0:
            continue
        tensor_rank = a.shape[0]
        rank, alpha = rank_and_alpha(config, module)
        notes = []
        if rank is not None and rank != tensor_rank:
            notes.append(f"config says r={rank}, tensors have r={tensor_rank}: using {tensor_rank}")
        if alpha is None:
            alpha = float(tensor_rank)
            notes.append("no lora_alpha: taking alpha = r")
        magnitude = found.get(("lora_magnitude_vector", "weight"))
        if magnitude is not None and magnitude.shape != (b.shape[0],):
            notes.append(f"magnitude vector {list(magnitude.shape)} does not fit: ignored")
            magnitude = None
        bias = found.get(("lora_B", "bias"))
        if bias is not None and bias.shape != (b.shape[0],):
            bias = None
        result.append(
            ModuleUpdate(
                name=module,
                kind="embedding" if embedding else "linear",
                a=a,
                b=b,
                rank=tensor_rank,
                alpha=alpha,
                scale=scale_for(config, tensor_rank, alpha),
                transposed=embedding or fan_in_fan_out,
                bias=bias,
                magnitude=magnitude,
                notes=tuple(notes),
            )
        )
    return result
