"""Synthetic versions in the tutorial layout, for benchmarks and tests (test support:
not part of the installed package; import it as `synth` with tests/support on sys.path).

Each version is real: a safetensors adapter with peft's tensor names (written by the
safetensors library), peft's adapter_config.json, the tutorial's metadata file and a
Trainer `trainer_state.json` with a plausible, decaying loss history.
"""

from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

from ftui.store.naming import folder_name, metadata_name

GPT2_MODULES = ("attn.c_attn", "attn.c_proj")  # peft's GPT-2 targets, (out features)
MODULE_OUT = {"attn.c_attn": 3, "attn.c_proj": 1}


def lora_tensors(
    r: int,
    layers: int = 6,
    hidden: int = 64,
    seed: int = 0,
    modules: tuple[str, ...] = GPT2_MODULES,
) -> dict[str, np.ndarray]:
    """LoRA A (r × in) and B (out × r) tensors named as peft saves them for GPT-2."""
    rng = np.random.default_rng(seed)
    tensors: dict[str, np.ndarray] = {}
    for layer in range(layers):
        for module in modules:
            prefix = f"base_model.model.transformer.h.{layer}.{module}"
            out = hidden * MODULE_OUT.get(module, 1)
            tensors[f"{prefix}.lora_A.weight"] = rng.normal(0, 0.02, (r, hidden)).astype(np.float32)
            tensors[f"{prefix}.lora_B.weight"] = rng.normal(0, 0.01, (out, r)).astype(np.float32)
    return tensors


def adapter_config(r: int, alpha: float, dropout: float, base_model: str) -> dict[str, object]:
    return {
        "base_model_name_or_path": base_model,
        "bias": "none",
        "fan_in_fan_out": True,
        "inference_mode": True,
        "lora_alpha": alpha,
        "lora_dropout": dropout,
        "peft_type": "LORA",
        "r": r,
        "target_modules": ["c_attn", "c_proj"],
        "task_type": "CAUSAL_LM",
        "use_rslora": False,
    }


def log_history(entries: int, epochs: int, start: float, seed: int) -> list[dict[str, object]]:
    """A Trainer log_history: `entries` train losses, one eval loss per epoch."""
    rng = random.Random(seed)
    history: list[dict[str, object]] = []
    per_epoch = max(1, entries // epochs)
    for i in range(1, entries + 1):
        epoch = i / per_epoch
        loss = start * math.exp(-1.2 * epoch / epochs) + 0.35 + rng.uniform(-0.05, 0.05)
        history.append({"epoch": round(epoch, 4), "grad_norm": round(rng.uniform(0.5, 2), 4),
                        "learning_rate": 2e-4 * (1 - i / entries), "loss": round(loss, 4),
                        "step": i})  # fmt: skip
        if i % per_epoch == 0:
            eval_loss = start * math.exp(-1.0 * epoch / epochs) + 0.45
            history.append({"epoch": round(epoch, 4), "eval_loss": round(eval_loss, 4),
                            "eval_runtime": 0.1, "step": i})  # fmt: skip
    return history


def write_version(
    root: Path,
    version_id: str,
    *,
    r: int = 8,
    alpha: float = 16,
    dropout: float = 0.05,
    epochs: int = 3,
    num_samples: int = 200,
    base_model: str = "gpt2",
    layers: int = 6,
    hidden: int = 64,
    history_entries: int = 100,
    seed: int = 0,
    timestamp: datetime | None = None,
    extra_metadata: dict[str, object] | None = None,
) -> Path:
    """Write one tutorial-layout version under `root` (`v_<id>/` and `metadata_<id>.json`;
    an id given as `v_<stamp>` gives the older `metadata_v_<stamp>.json`); return its folder."""
    folder = root / folder_name(version_id)
    folder.mkdir(parents=True, exist_ok=False)
    save_file(lora_tensors(r, layers, hidden, seed=seed), str(folder / "adapter_model.safetensors"))
    (folder / "adapter_config.json").write_text(
        json.dumps(adapter_config(r, alpha, dropout, base_model), indent=2)
    )
    state = {
        "epoch": float(epochs),
        "global_step": history_entries,
        "log_history": log_history(history_entries, epochs, 2.5 + (seed % 7) / 10, seed),
    }
    (folder / "trainer_state.json").write_text(json.dumps(state, indent=2))
    stamp = timestamp or datetime(2026, 1, 1) + timedelta(minutes=seed)
    metadata: dict[str, object] = {
        "version_id": version_id,
        "timestamp": stamp.isoformat(),
        "model_name": base_model,
        "lora_config": {"r": r, "lora_alpha": alpha, "lora_dropout": dropout},
        "num_samples": num_samples,
        "num_epochs": epochs,
        "dataset": "alpaca-style instructions (synthetic)",
        "training_args": {"learning_rate": 2e-4, "per_device_train_batch_size": 4,
                          "gradient_accumulation_steps": 1, "max_length": 256,
                          "warmup_steps": 10, "seed": 42},
    }  # fmt: skip
    metadata.update(extra_metadata or {})
    (root / metadata_name(version_id)).write_text(json.dumps(metadata, indent=2))
    return folder


def write_many(root: Path, count: int, seed: int = 0, hidden: int = 64) -> None:
    """`count` versions with ids `<date>_<time>` one minute apart (24 LoRA tensors each),
    in the tutorial's naming (`v_<id>/`, `metadata_<id>.json`)."""
    start = datetime(2025, 1, 1)
    for i in range(count):
        stamp = start + timedelta(minutes=i)
        write_version(root, f"{stamp:%Y%m%d_%H%M%S}", r=(4, 8, 16)[i % 3],
                      alpha=(8, 16, 32)[i % 3], seed=seed + i, timestamp=stamp,
                      hidden=hidden)  # fmt: skip
