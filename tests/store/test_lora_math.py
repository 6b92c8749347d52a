"""Update norms and cosines from the factors agree with forming ΔW = s·B·A explicitly."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ftui.store import read_adapter
from ftui.store.lora_math import update_stats

PREFIX = "base_model.model.transformer.h.0.attn.c_attn"


def write(path: Path, a: np.ndarray, b: np.ndarray, extra: dict | None = None) -> Path:
    save_file({f"{PREFIX}.lora_A.weight": a, f"{PREFIX}.lora_B.weight": b, **(extra or {})},
              str(path))  # fmt: skip
    return path


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64])
def test_norm_and_cosine_match_the_full_product(tmp_path: Path, dtype) -> None:
    rng = np.random.default_rng(0)
    a1, b1 = rng.normal(size=(4, 32)), rng.normal(size=(96, 4))
    a2, b2 = rng.normal(size=(8, 32)), rng.normal(size=(96, 8))
    one = read_adapter(write(tmp_path / "1.safetensors", a1.astype(dtype), b1.astype(dtype)))
    two = read_adapter(write(tmp_path / "2.safetensors", a2.astype(dtype), b2.astype(dtype)))
    cfg1, cfg2 = {"r": 4, "lora_alpha": 8}, {"r": 8, "lora_alpha": 8, "use_rslora": True}
    (stats,) = update_stats(one, cfg1, two, cfg2)
    w1 = (8 / 4) * b1.astype(dtype).astype(float) @ a1.astype(dtype).astype(float)
    w2 = (8 / math.sqrt(8)) * b2.astype(dtype).astype(float) @ a2.astype(dtype).astype(float)
    assert stats.norm_a == pytest.approx(np.linalg.norm(w1), rel=1e-6)
    assert stats.norm_b == pytest.approx(np.linalg.norm(w2), rel=1e-6)
    cosine = np.sum(w1 * w2) / (np.linalg.norm(w1) * np.linalg.norm(w2))
    assert stats.cosine == pytest.approx(cosine, rel=1e-6, abs=1e-9)


def test_same_adapter_has_cosine_one_and_bf16_is_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(4, 16)).astype(np.float32), rng.normal(size=(16, 4)).astype(np.float32)
    path = write(tmp_path / "a.safetensors", a, b)
    # Rewrite the same values as BF16 by hand: numpy has no bfloat16.
    info = read_adapter(path)
    (stats,) = update_stats(info, {"r": 4, "lora_alpha": 4}, info, {"r": 4, "lora_alpha": 4})
    assert stats.cosine == pytest.approx(1.0)
    bf16 = {name: (arr.view(np.uint32) >> 16).astype(np.uint16) for name, arr in
            {f"{PREFIX}.lora_A.weight": a, f"{PREFIX}.lora_B.weight": b}.items()}  # fmt: skip
    raw = tmp_path / "bf16.safetensors"
    save_file(bf16, str(raw))
    data = bytearray(raw.read_bytes())
    header_len = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + header_len].replace(b'"U16"', b'"BF16"')
    prefix = len(header).to_bytes(8, "little")
    raw.write_bytes(prefix + bytes(header) + bytes(data[8 + header_len :]))
    (bf,) = update_stats(read_adapter(raw), {"r": 4, "lora_alpha": 4}, info,
                         {"r": 4, "lora_alpha": 4})  # fmt: skip
    assert bf.cosine == pytest.approx(1.0, abs=1e-3)
    assert bf.norm_a == pytest.approx(stats.norm_a, rel=1e-2)


def test_missing_side_and_changed_file(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 8)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    info = read_adapter(write(tmp_path / "a.safetensors", a, b))
    (stats,) = update_stats(info, {"r": 2, "lora_alpha": 2}, None, {})
    assert stats.norm_a is not None and stats.norm_b is None and stats.cosine is None
    with open(info.path, "ab") as handle:
        handle.write(b"\0")
    from ftui.store import ReadError

    with pytest.raises(ReadError, match="changed on disk"):
        update_stats(info, {}, None, {})


def test_alpha_pattern_sets_the_module_scale_as_peft_does(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 16)), rng.normal(size=(48, 4))
    info = read_adapter(write(tmp_path / "p.safetensors", a, b))
    plain = {"r": 4, "lora_alpha": 8}
    patterned = {**plain, "alpha_pattern": {"h.0.attn.c_attn": 32}}
    (base,) = update_stats(info, plain, None, {})
    (stats,) = update_stats(info, patterned, None, {})
    assert stats.norm_a == pytest.approx(base.norm_a * 32 / 8)
    assert stats.norm_a == pytest.approx(np.linalg.norm((32 / 4) * b @ a))
