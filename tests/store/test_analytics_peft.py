"""Every analytics figure against torch, on real adapters made by peft (tests/store/peft_oracle).

The oracle is peft's own merge on a float64 model: ΔW = merged − base per module. Our
figures come from the saved safetensors through numpy, never forming ΔW (except DoRA,
whose true update is full rank). Tolerance: 1e-5 relative.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from ftui.store import read_adapter
from ftui.store.lora_config import LABEL_DORA, LABEL_DORA_APPROX, LABEL_LORA, module_updates
from ftui.store.lora_similarity import iter_comparison, overall_cosine
from ftui.store.lora_spectrum import inspect_adapter
from tests.store.peft_oracle import BASE

REL = 1e-5
torch = pytest.importorskip("torch")


def adapter_of(oracle):
    return read_adapter(oracle.folder / "adapter_model.safetensors")


def torch_figures(delta) -> dict[str, object]:
    """The figures, computed by torch on the materialised update."""
    sigma = torch.linalg.svdvals(delta)
    p = sigma[sigma > sigma[0] * 1e-12] / sigma.sum()
    energy = torch.cumsum(sigma**2, 0) / torch.sum(sigma**2)
    return {
        "sigma": sigma,
        "frobenius": float(torch.linalg.matrix_norm(delta, "fro")),
        "spectral": float(torch.linalg.matrix_norm(delta, 2)),
        "effective_rank": float(torch.exp(-(p * torch.log(p)).sum())),
        "energy90": int((energy < 0.9 - 1e-12).sum()) + 1,
        "energy99": int((energy < 0.99 - 1e-12).sum()) + 1,
    }


def canonical(oracle, name: str):
    """torch's ΔW in out × in orientation (peft stores Conv1D and embeddings transposed)."""
    delta = oracle.deltas[name]
    update = {u.name: u for u in module_updates(adapter_of(oracle), oracle.config)}[name]
    return delta.T if update.transposed else delta


@pytest.mark.parametrize("which", ["patterns", "rslora", "dora", "embedding", "r4", "r8"])
def test_every_figure_matches_torch(peft_adapters, which: str) -> None:
    oracle = peft_adapters[which]
    spectra = inspect_adapter(adapter_of(oracle), oracle.config, BASE)
    assert {m.name for m in spectra.modules} == set(oracle.deltas)
    for module in spectra.modules:
        expected = torch_figures(oracle.deltas[module.name])
        sigma = expected["sigma"]
        ours = np.asarray(module.singular_values)
        np.testing.assert_allclose(ours, sigma[: len(ours)].numpy(), rtol=REL, atol=0)
        rest = sigma[len(ours) :]
        assert len(rest) == 0 or float(rest.max()) < 1e-9 * float(sigma[0])  # rank ≤ r
        for figure in ("frobenius", "spectral", "effective_rank"):
            assert getattr(module, figure) == pytest.approx(expected[figure], rel=REL), figure
        assert module.energy90 == expected["energy90"]
        assert module.energy99 == expected["energy99"]
        if module.name in oracle.bias_deltas and module.bias_norm is not None:
            bias = float(torch.linalg.vector_norm(oracle.bias_deltas[module.name]))
            assert module.bias_norm == pytest.approx(bias, rel=REL)
        assert module.label == (LABEL_DORA if which == "dora" else LABEL_LORA)
    assert spectra.total_norm == pytest.approx(
        math.sqrt(sum(float(torch.sum(d**2)) for d in oracle.deltas.values())), rel=REL
    )


def test_alpha_and_rank_patterns_are_matched_as_peft_matches_them(peft_adapters) -> None:
    oracle = peft_adapters["patterns"]
    updates = {u.name: u for u in module_updates(adapter_of(oracle), oracle.config)}
    assert updates["transformer.h.1.attn.c_attn"].scale == 32 / 4  # alpha_pattern
    assert updates["transformer.h.0.attn.c_attn"].scale == 8 / 4
    assert updates["transformer.h.0.mlp.c_fc"].rank == 8  # rank_pattern
    assert updates["transformer.h.0.mlp.c_fc"].scale == 8 / 8
    assert all(u.transposed for u in updates.values())  # GPT-2 Conv1D: fan_in_fan_out
    # peft's get_delta_weight agrees with merged − base (the oracle is self-consistent)
    for name, delta in oracle.delta_weights.items():
        torch.testing.assert_close(delta, oracle.deltas[name], rtol=1e-9, atol=1e-12)


def test_lora_bias_is_read_beside_the_weight(peft_adapters) -> None:
    oracle = peft_adapters["patterns"]
    spectra = inspect_adapter(adapter_of(oracle), oracle.config)
    assert all(m.bias_norm is not None for m in spectra.modules)
    for module in spectra.modules:
        bias = float(torch.linalg.vector_norm(oracle.bias_deltas[module.name]))
        assert module.bias_norm == pytest.approx(bias, rel=REL)
    adapter = adapter_of(oracle)
    assert all(len(m.b_shape or ()) == 2 for m in adapter.modules)  # B is not its bias


def test_dora_without_base_weights_says_so_and_gives_s_b_a(peft_adapters) -> None:
    oracle = peft_adapters["dora"]
    adapter = adapter_of(oracle)
    approx = inspect_adapter(adapter, oracle.config, base_folder=None)
    true = inspect_adapter(adapter, oracle.config, BASE)
    from safetensors.torch import load_file

    tensors = {k.removeprefix("base_model.model."): v.double() for k, v in
               load_file(oracle.folder / "adapter_model.safetensors").items()}  # fmt: skip
    for low, full in zip(approx.modules, true.modules, strict=True):
        assert low.label == LABEL_DORA_APPROX and full.label == LABEL_DORA
        part = "lora_embedding_" if low.kind == "embedding" else "lora_"
        suffix = "" if low.kind == "embedding" else ".weight"
        b = tensors[f"{low.name}.{part}B{suffix}"]
        a = tensors[f"{low.name}.{part}A{suffix}"]
        expected = float(torch.linalg.matrix_norm(low.scale * b @ a))
        assert low.frobenius == pytest.approx(expected, rel=REL)
        assert abs(low.frobenius - full.frobenius) > 1e-3 * full.frobenius  # magnitude matters


def test_rank_4_against_rank_8_matches_torch(peft_adapters) -> None:
    check_comparison(peft_adapters["r4"], peft_adapters["r8"])


def test_dora_against_plain_lora_matches_torch(peft_adapters) -> None:
    check_comparison(peft_adapters["dora"], peft_adapters["embedding"])


def check_comparison(one, two) -> None:
    modules = list(iter_comparison(adapter_of(one), one.config, adapter_of(two), two.config,
                                   BASE, BASE))  # fmt: skip
    compared = [m for m in modules if m.cosine is not None]
    assert compared
    inner = norm1 = norm2 = 0.0
    for m in compared:
        w1, w2 = canonical(one, m.name), canonical(two, m.name)
        cosine = float(torch.sum(w1 * w2) / (torch.linalg.norm(w1) * torch.linalg.norm(w2)))
        assert m.cosine == pytest.approx(cosine, rel=REL, abs=1e-9)
        inner += float(torch.sum(w1 * w2))
        norm1 += float(torch.sum(w1 * w1))
        norm2 += float(torch.sum(w2 * w2))
        u1, _, vh1 = torch.linalg.svd(w1, full_matrices=False)
        u2, _, vh2 = torch.linalg.svd(w2, full_matrices=False)
        k1, k2 = m.a.rank, m.b.rank
        for subspaces, d1, d2 in ((m.inputs, vh1.T, vh2.T), (m.outputs, u1, u2)):
            overlap = d1[:, :k1].T @ d2[:, :k2]
            for a, i in enumerate(subspaces.rows):
                for b, j in enumerate(subspaces.cols):
                    phi = float(torch.sum(overlap[:i, :j] ** 2)) / min(i, j)
                    assert subspaces.phi[a][b] == pytest.approx(phi, rel=REL, abs=1e-9)
            k = min(k1, k2)
            cosines = torch.linalg.svdvals(overlap[:k, :k]).clamp(-1, 1)
            angles = torch.rad2deg(torch.arccos(cosines)).numpy()
            np.testing.assert_allclose(subspaces.angles, angles, rtol=REL, atol=1e-4)
            assert subspaces.top1 == pytest.approx(float(overlap[0, 0] ** 2), rel=REL, abs=1e-9)
    assert overall_cosine(modules) == pytest.approx(inner / math.sqrt(norm1 * norm2), rel=REL)


def test_an_adapter_compared_with_itself_is_one_everywhere(peft_adapters) -> None:
    oracle = peft_adapters["patterns"]
    adapter = adapter_of(oracle)
    for m in iter_comparison(adapter, oracle.config, adapter, oracle.config):
        assert m.cosine == pytest.approx(1.0)
        assert m.inputs is not None and m.outputs is not None
        assert np.allclose(m.inputs.phi, 1.0) and np.allclose(m.outputs.phi, 1.0)
        assert max(m.inputs.angles) < 1e-3


def test_bf16_adapter_matches_torch_on_its_own_values(peft_adapters, tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    oracle = peft_adapters["r8"]
    tensors = load_file(oracle.folder / "adapter_model.safetensors")
    save_file({k: v.to(torch.bfloat16) for k, v in tensors.items()},
              tmp_path / "adapter_model.safetensors")  # fmt: skip
    shutil.copy(oracle.folder / "adapter_config.json", tmp_path)
    adapter = read_adapter(tmp_path / "adapter_model.safetensors")
    assert {t.dtype for t in adapter.tensors} == {"BF16"}
    spectra = inspect_adapter(adapter, oracle.config)
    scale = 16 / 8
    for module in spectra.modules:
        key = f"base_model.model.{module.name}"
        b = tensors[f"{key}.lora_B.weight"].to(torch.bfloat16).double()
        a = tensors[f"{key}.lora_A.weight"].to(torch.bfloat16).double()
        sigma = torch.linalg.svdvals(scale * b @ a)[: module.rank].numpy()
        np.testing.assert_allclose(module.singular_values, sigma, rtol=REL)
