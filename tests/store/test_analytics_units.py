"""The analytics' building blocks: peft's key matching, the factored SVD's hard cases,
effective and energy ranks on known spectra, the heatmap, damaged inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ftui.store import ReadError, read_adapter
from ftui.store.base_weights import BaseWeights
from ftui.store.lora_config import get_pattern_key, module_updates, rank_and_alpha, split_key
from ftui.store.lora_factors import low_rank_svd
from ftui.store.lora_grouping import heatmap, layer_and_type, short_types
from ftui.store.lora_spectrum import effective_rank, energy_rank, inspect_adapter

KEYS = ["transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn", "transformer.h.11.mlp.c_fc",
        "model.layers.3.self_attn.q_proj", "c_attn", "transformer.h.1.attn.c_proj"]  # fmt: skip
PATTERNS = [["c_attn"], ["h.1.attn.c_attn", "c_attn"], ["attn"], ["h.1"], [r"h\.\d+\.mlp.*"],
            ["layers.3.self_attn.q_proj"], ["q_proj", "self_attn.q_proj"], ["(", "c_fc"],
            ["c_.*"], ["h.1.attn"], [".*"]]  # fmt: skip


@pytest.mark.parametrize("patterns", PATTERNS)
def test_pattern_keys_match_as_peft_matches_them(patterns: list[str]) -> None:
    from peft.utils.other import get_pattern_key as peft_get_pattern_key

    for key in KEYS:
        ours = get_pattern_key(patterns, key)
        try:
            theirs = peft_get_pattern_key(patterns, key)
        except Exception:  # peft raises on a broken regex; we skip that pattern
            assert "(" in patterns
            continue
        assert (ours if ours is not None else key) == theirs, (patterns, key)


def test_rank_and_alpha_from_patterns_else_global() -> None:
    config = {"r": 4, "lora_alpha": 8, "rank_pattern": {"c_fc": 16},
              "alpha_pattern": {"h.1.attn.c_attn": 32, "c_attn": 2}}  # fmt: skip
    assert rank_and_alpha(config, "transformer.h.1.attn.c_attn") == (4, 32)  # first match wins
    assert rank_and_alpha(config, "transformer.h.0.attn.c_attn") == (4, 2)
    assert rank_and_alpha(config, "transformer.h.0.mlp.c_fc") == (16, 8)
    assert rank_and_alpha({"r": "x", "lora_alpha": None}, "a") == (None, None)


def test_tensor_keys_split_into_module_part_and_parameter() -> None:
    assert split_key("base_model.model.m.h.0.lora_A.weight") == ("m.h.0", "lora_A", "weight")
    assert split_key("base_model.model.m.lora_B.bias") == ("m", "lora_B", "bias")
    assert split_key("m.lora_A.default.weight") == ("m", "lora_A", "weight")
    assert split_key("base_model.model.wte.lora_embedding_A") == ("wte", "lora_embedding_A",
                                                                  "weight")  # fmt: skip
    assert split_key("m.lora_magnitude_vector") == ("m", "lora_magnitude_vector", "weight")
    assert split_key("m.weight") is None and split_key("lora_A.weight") is None


@pytest.mark.parametrize(("sigma", "erank", "k90", "k99"), [
    ([1.0, 1.0, 1.0, 1.0], 4.0, 4, 4),
    ([1.0, 0.0, 0.0], 1.0, 1, 1),
    ([3.0, 1.0], math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))), 1, 2),
    ([], 0.0, 0, 0),
    ([0.0, 0.0], 0.0, 0, 0),
])  # fmt: skip
def test_effective_and_energy_ranks_on_known_spectra(sigma, erank, k90, k99) -> None:
    assert effective_rank(tuple(sigma)) == pytest.approx(erank)
    assert energy_rank(tuple(sigma), 0.9) == k90
    assert energy_rank(tuple(sigma), 0.99) == k99


def test_ill_conditioned_and_rank_deficient_factors_take_the_qr_path() -> None:
    rng = np.random.default_rng(0)
    q_b, _ = np.linalg.qr(rng.normal(size=(300, 6)))
    q_a, _ = np.linalg.qr(rng.normal(size=(200, 6)))
    b = q_b * np.array([1.0, 1e-2, 1e-4, 1e-6, 1e-7, 0.0])  # one column exactly zero
    a = q_a.T
    svd = low_rank_svd(a, b, scale=2.0)
    assert svd.method == "qr"
    expected = np.linalg.svd(2.0 * b @ a, compute_uv=False)
    np.testing.assert_allclose(svd.singular_values, expected[: len(svd.singular_values)],
                               rtol=1e-6)  # fmt: skip
    assert len(svd.singular_values) == 5  # the zero direction is not a direction
    u = b @ svd.p_out
    np.testing.assert_allclose(u.T @ u, np.eye(5), atol=1e-6)


def _write(path: Path, tensors: dict[str, np.ndarray], config: dict) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path / "adapter_model.safetensors"))
    (path / "adapter_config.json").write_text(json.dumps(config))
    return path / "adapter_model.safetensors"


def test_zero_and_non_finite_updates_are_reported_not_crashed_on(tmp_path: Path) -> None:
    pre = "base_model.model.layers.0"
    a = np.ones((2, 4), np.float32)
    tensors = {
        f"{pre}.q.lora_A.weight": a,
        f"{pre}.q.lora_B.weight": np.zeros((3, 2), np.float32),
        f"{pre}.k.lora_A.weight": a,
        f"{pre}.k.lora_B.weight": np.full((3, 2), np.nan, np.float32),
    }
    adapter = read_adapter(_write(tmp_path, tensors, {"r": 2, "lora_alpha": 2}))
    modules = {m.name: m for m in inspect_adapter(adapter, {"r": 2, "lora_alpha": 2}).modules}
    zero, bad = modules["layers.0.q"], modules["layers.0.k"]
    assert zero.frobenius == 0 and zero.effective_rank == 0 and zero.energy90 == 0
    assert math.isnan(bad.frobenius) and any("NaN" in n for n in bad.notes)


def test_changed_file_and_unknown_dtype_are_read_errors(tmp_path: Path) -> None:
    pre = "base_model.model.m"
    tensors = {f"{pre}.lora_A.weight": np.ones((2, 4), np.int32),
               f"{pre}.lora_B.weight": np.ones((3, 2), np.int32)}  # fmt: skip
    adapter = read_adapter(_write(tmp_path, tensors, {}))
    with pytest.raises(ReadError, match="I32"):
        inspect_adapter(adapter, {})
    with open(adapter.path, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ReadError, match="changed on disk"):
        inspect_adapter(adapter, {})


def test_rank_that_disagrees_with_the_config_is_noted(tmp_path: Path) -> None:
    pre = "base_model.model.m"
    tensors = {f"{pre}.lora_A.weight": np.ones((2, 4), np.float32),
               f"{pre}.lora_B.weight": np.ones((3, 2), np.float32)}  # fmt: skip
    adapter = read_adapter(_write(tmp_path, tensors, {}))
    (update,) = module_updates(adapter, {"r": 8, "lora_alpha": 16})
    assert update.rank == 2 and update.scale == 8 and "r=8" in update.notes[0]


def test_sharded_base_model_is_found_by_its_index(tmp_path: Path) -> None:
    weight = np.arange(12, dtype=np.float32).reshape(3, 4)
    save_file({"model.layers.0.q.weight": weight}, str(tmp_path / "shard-1.safetensors"))
    (tmp_path / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"model.layers.0.q.weight": "shard-1.safetensors"}})
    )
    base = BaseWeights.find(tmp_path)
    assert base is not None
    np.testing.assert_array_equal(base.weight("model.layers.0.q"), weight)
    assert base.weight("model.layers.0.k") is None
    base.close()
    assert BaseWeights.find(tmp_path / "nowhere") is None


def test_layers_and_types_and_the_heatmap(tmp_path: Path) -> None:
    assert layer_and_type("transformer.h.3.attn.c_attn") == ("3", "attn.c_attn")
    assert layer_and_type("transformer.wte") == ("-", "transformer.wte")
    assert short_types(["attn.c_attn", "attn.c_proj", "mlp.c_proj"])["mlp.c_proj"] == "mlp.c_proj"
    short = short_types(["self_attn.q_proj", "mlp.up_proj"])
    assert short == {"self_attn.q_proj": "q_proj", "mlp.up_proj": "up_proj"}
    rng = np.random.default_rng(1)
    tensors = {}
    for layer in (0, 1, 10):
        for module in ("q", "v"):
            if (layer, module) == (10, "v"):
                continue
            pre = f"base_model.model.model.layers.{layer}.attn.{module}"
            tensors[f"{pre}.lora_A.weight"] = rng.normal(size=(2, 8)).astype(np.float32)
            tensors[f"{pre}.lora_B.weight"] = rng.normal(size=(8, 2)).astype(np.float32)
    adapter = read_adapter(_write(tmp_path, tensors, {"r": 2, "lora_alpha": 2}))
    spectra = inspect_adapter(adapter, {"r": 2, "lora_alpha": 2})
    heat = heatmap(spectra.modules, "norm")
    assert heat.layers == ("0", "1", "10") and heat.types == ("attn.q", "attn.v")
    assert heat.values[2][1] is None
    by_name = {m.name: m.frobenius for m in spectra.modules}
    assert heat.values[1][0] == by_name["model.layers.1.attn.q"]
