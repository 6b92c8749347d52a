"""Fixtures for store tests: small, real version folders written in tmp_path."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from synth import write_version


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A root with two healthy tutorial-layout versions (r=4 and r=8), in the tutorial's
    naming: ids `<stamp>`, folders `v_<stamp>/`, metadata `metadata_<stamp>.json`."""
    base = tmp_path / "model_versions"
    base.mkdir()
    write_version(base, "20260101_100000", r=4, alpha=8, layers=2, history_entries=12,
                  seed=1, timestamp=datetime(2026, 1, 1, 10))  # fmt: skip
    write_version(base, "20260102_100000", r=8, alpha=16, layers=2, history_entries=12,
                  seed=2, timestamp=datetime(2026, 1, 2, 10))  # fmt: skip
    return base


@pytest.fixture(scope="session")
def peft_adapters(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Real adapters made by peft on the tiny GPT-2, each with torch's ΔW per module.

    Made once per session (about 10 s, most of it importing torch and peft).
    """
    from tests.store.peft_oracle import make_adapter

    root = tmp_path_factory.mktemp("peft")
    gpt2 = {"fan_in_fan_out": True}
    specs: dict[str, dict[str, object]] = {
        # several targets incl. Conv1D, per-module rank and alpha, lora_bias
        "patterns": dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj", "c_fc"],
                         rank_pattern={"c_fc": 8}, alpha_pattern={"h.1.attn.c_attn": 32},
                         lora_bias=True, **gpt2),
        "rslora": dict(r=8, lora_alpha=16, use_rslora=True, target_modules=["c_attn", "c_fc"],
                       **gpt2),
        "dora": dict(r=4, lora_alpha=8, use_dora=True, target_modules=["c_attn", "c_fc", "wte"],
                     **gpt2),
        "embedding": dict(r=4, lora_alpha=4, target_modules=["wte", "c_attn"], **gpt2),
        "r4": dict(r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"], **gpt2),
        "r8": dict(r=8, lora_alpha=16, target_modules=["c_attn", "c_proj"], **gpt2),
    }  # fmt: skip
    made = {}
    for seed, (name, spec) in enumerate(specs.items()):
        made[name] = make_adapter(root / name, seed=seed, **spec)
    return made
