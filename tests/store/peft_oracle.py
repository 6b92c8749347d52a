"""Real adapters made by peft on the built-in tiny GPT-2, and torch's answers about them.

Each adapter is made with `get_peft_model`, given non-zero B (and, for DoRA, a magnitude
vector that really rescales), saved with `save_pretrained`, then loaded back with
`PeftModel.from_pretrained` into a float64 copy of the base model. The oracle is peft's
own merge: ΔW = merged weight − base weight, per module, in float64.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.train.paths import ASSETS

BASE = ASSETS / "tiny-gpt2"


@dataclass
class Oracle:
    """An adapter on disk and, per module key, torch's ΔW (stored orientation) and Δbias."""

    folder: Path
    config: dict[str, Any]
    deltas: dict[str, Any] = field(default_factory=dict)  # torch float64 tensors
    bias_deltas: dict[str, Any] = field(default_factory=dict)
    delta_weights: dict[str, Any] = field(default_factory=dict)  # get_delta_weight (non-DoRA)


def _quiet() -> None:
    for key in ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "TRANSFORMERS_OFFLINE"):
        os.environ.setdefault(key, "1")


def make_adapter(folder: Path, seed: int, **lora: Any) -> Oracle:
    """Make, save and reload one adapter; record peft's merged-minus-base updates."""
    _quiet()
    import json

    import torch
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(BASE)
    lora.setdefault("init_lora_weights", False)  # B = 0 would make every update zero
    peft_model = get_peft_model(model, LoraConfig(**lora))
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_magnitude_vector" in name:
                param.mul_(torch.rand_like(param) + 0.5)
            elif "lora_B" in name and name.endswith("bias"):
                param.normal_(0, 0.1)
    peft_model.save_pretrained(folder)
    config = json.loads((folder / "adapter_config.json").read_text())

    base = AutoModelForCausalLM.from_pretrained(BASE).double()
    loaded = PeftModel.from_pretrained(base, folder).double()
    oracle = Oracle(folder, config)
    from peft.tuners.lora import LoraLayer

    with torch.no_grad():
        for name, module in loaded.named_modules():
            if not isinstance(module, LoraLayer) or "default" not in module.scaling:
                continue
            key = name.removeprefix("base_model.model.")
            base_layer = module.get_base_layer()
            weight = base_layer.weight.detach().clone()
            bias = getattr(base_layer, "bias", None)
            bias = None if bias is None else bias.detach().clone()
            if "default" not in module.lora_variant:
                oracle.delta_weights[key] = module.get_delta_weight("default").detach().clone()
            module.merge(adapter_names=["default"])
            oracle.deltas[key] = base_layer.weight.detach() - weight
            if bias is not None:
                oracle.bias_deltas[key] = base_layer.bias.detach() - bias
            module.unmerge()
    return oracle
