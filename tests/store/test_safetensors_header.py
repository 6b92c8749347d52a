"""The safetensors header reader agrees with the safetensors library and refuses damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file
from synth import lora_tensors

from ftui.store import ReadError, read_adapter
from ftui.store.safetensors_header import lora_modules, natural_key


def write_raw(path: Path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_header_matches_the_library(tmp_path: Path) -> None:
    tensors = lora_tensors(r=4, layers=3)
    tensors["extra.bias"] = np.zeros((5,), dtype=np.float16)
    path = tmp_path / "a.safetensors"
    save_file(tensors, str(path), metadata={"format": "pt"})
    info = read_adapter(path)
    assert {t.name: t.shape for t in info.tensors} == {k: v.shape for k, v in tensors.items()}
    assert {t.name: t.dtype for t in info.tensors}["extra.bias"] == "F16"
    assert info.header_metadata == {"format": "pt"}
    assert [m.name for m in info.modules][:3] == [
        "transformer.h.0.attn.c_attn",
        "transformer.h.0.attn.c_proj",
        "transformer.h.1.attn.c_attn",
    ]
    assert info.ranks == {4} and info.file_size == path.stat().st_size
    assert info.parameter_count == sum(v.size for v in tensors.values())


def test_in_memory_names_and_embeddings_are_grouped() -> None:
    from ftui.store.model import TensorInfo

    names = [
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.default.weight",
        "base_model.model.model.embed_tokens.lora_embedding_A",
    ]
    shapes = [(8, 32), (32, 8), (8, 100)]
    modules = lora_modules([TensorInfo(n, "F32", s, 0) for n, s in zip(names, shapes, strict=True)])
    assert [(m.name, m.rank) for m in modules] == [
        ("model.embed_tokens", 8),
        ("model.layers.0.self_attn.q_proj", 8),
    ]


def test_natural_order() -> None:
    assert sorted(["h.10", "h.2", "h.1"], key=natural_key) == ["h.1", "h.2", "h.10"]


@pytest.mark.parametrize(
    ("header", "data", "reason"),
    [
        ({"t": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "unknown dtype"),
        ({"t": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "outside"),
        ({"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8 bytes"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, b"\0" * 12, "overlap"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, b"\0" * 4, "two unsigned"),
        ({"__metadata__": {"a": 1}}, b"", "__metadata__"),
        ({"t": [1, 2]}, b"", "not an object"),
    ],
)  # fmt: skip
def test_invalid_headers_are_refused(
    tmp_path: Path, header: dict, data: bytes, reason: str
) -> None:
    path = write_raw(tmp_path / "x.safetensors", header, data)
    with pytest.raises(ReadError, match=reason):
        read_adapter(path)


def test_length_bounds(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 0))
    with pytest.raises(ReadError, match="header length is 0"):
        read_adapter(path)
    path.write_bytes(struct.pack("<Q", 50) + b"{}")
    with pytest.raises(ReadError, match="truncated"):
        read_adapter(path)
    path.write_bytes(b"\xff" * 8 + b"{}")
    with pytest.raises(ReadError, match="exceeds"):
        read_adapter(path)
    path.write_bytes(struct.pack("<Q", 4) + b"[1] ")
    with pytest.raises(ReadError, match="not a JSON object"):
        read_adapter(path)


def _save(path: Path, names: list[str]) -> Path:
    shapes = {"lora_A": (4, 16), "lora_B": (32, 4), "bias": (32,), "emb_A": (4, 100)}

    def shape(name: str) -> tuple[int, ...]:
        if name.endswith(".bias"):
            return shapes["bias"]
        if "embedding_A" in name:
            return shapes["emb_A"]
        return shapes["lora_A"] if ".lora_A" in name else shapes["lora_B"]

    save_file({n: np.zeros(shape(n), dtype=np.float32) for n in names}, str(path))
    return path


@pytest.mark.parametrize("bias_first", [True, False])
def test_lora_b_bias_is_never_the_b_weight(tmp_path: Path, bias_first: bool) -> None:
    """peft's lora_bias=True writes `lora_B.bias` beside `lora_B.weight`: whatever the
    order of the entries in the header, B is the weight."""
    m = "base_model.model.h.0.attn.c_attn"
    names = [f"{m}.lora_A.weight", f"{m}.lora_B.bias", f"{m}.lora_B.weight"]
    path = _save(tmp_path / "a.safetensors", names)
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    keys = sorted(header, key=lambda k: ("bias" not in k) if bias_first else ("bias" in k))
    text = json.dumps({k: header[k] for k in keys}).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n :])
    (module,) = read_adapter(path).modules
    assert module.b_tensor == f"{m}.lora_B.weight" and module.b_shape == (32, 4)
    assert module.rank == 4


def test_embedding_factors_are_read(tmp_path: Path) -> None:
    path = _save(tmp_path / "e.safetensors", ["base_model.model.wte.lora_embedding_A",
                                              "base_model.model.wte.lora_embedding_B"])  # fmt: skip
    (module,) = read_adapter(path).modules
    assert (module.name, module.a_shape, module.rank) == ("wte", (4, 100), 4)


def test_a_factor_without_its_pair_is_a_problem(tmp_path: Path) -> None:
    from ftui.store import scan

    folder = tmp_path / "run"
    folder.mkdir()
    m = "base_model.model.h.{}.attn.c_attn.lora_{}.weight"
    names = [m.format(0, "A"), m.format(1, "B"), m.format(2, "A"), m.format(2, "B")]
    _save(folder / "adapter_model.safetensors", names)
    (version,) = scan(tmp_path)
    (problem,) = version.problems
    assert problem.file == "run/adapter_model.safetensors"
    assert "h.0.attn.c_attn has lora_A but no lora_B" in problem.reason
    assert "h.1.attn.c_attn has lora_B but no lora_A" in problem.reason


F32 = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}


@pytest.mark.parametrize(
    ("text", "data", "accepted"),
    [
        (b'{"__metadata__":null,"t":' + json.dumps(F32).encode() + b"}", 4, True),
        (b'{"t":{"dtype":"F8_E4M3FNUZ","shape":[2],"data_offsets":[0,2]}}', 2, True),
        (b'{"t":{"dtype":"F8_E5M2FNUZ","shape":[2],"data_offsets":[0,2]}}', 2, True),
        (b'{"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},'
         b'"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
         b'"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]}}', 4, True),
        (b'{"t":' + json.dumps(F32).encode() + b"}  \t\r\n", 4, True),  # padding
        (b'{"t":' + json.dumps(F32).encode() + b"}", 5, False),  # a byte after the last tensor
        (b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8, False),  # gap before
        (b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
         b'"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}', 12, False),  # gap between
        (b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":' + b"[" * 126 + b"]" * 126
         + b"}}", 4, False),  # 128 levels
        (b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":' + b"[" * 125 + b"]" * 125
         + b"}}", 4, True),  # 127 levels
        (b'{"__metadata__":{"x":NaN},"t":' + json.dumps(F32).encode() + b"}", 4, False),
        (b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":Infinity}}', 4, False),
        (b'{"__metadata__":{"x":"\\ud800"},"t":' + json.dumps(F32).encode() + b"}", 4, False),
        (b'{"t\\udc00":' + json.dumps(F32).encode() + b"}", 4, False),
        (b'{"__metadata__":{"x":"\\ud83d\\ude00"},"t":' + json.dumps(F32).encode() + b"}", 4,
         True),  # a proper pair
        (b'{"t":{"dtype":"U8","shape":[18446744073709551616,0],"data_offsets":[0,0]}}', 0, False),
        (b'{"t":{"dtype":"U8","shape":[18446744073709551615,0],"data_offsets":[0,0]}}', 0, True),
        (b'{"t":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}', 0,
         False),  # the product overflows u64 before the zero
        (b'{"t":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4, False),
        (b'{"t":{"dtype":"F32","shape":[1],"data_offsets":[-0,4]}}', 4, False),
    ],
)  # fmt: skip
def test_the_librarys_rules(tmp_path: Path, text: bytes, data: int, accepted: bool) -> None:
    """Each rule checked against the library's own verdict, then against ftui's."""
    from safetensors import safe_open

    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * data)
    try:
        with safe_open(str(path), framework="np"):
            library = True
    except Exception:  # noqa: BLE001 - any refusal
        library = False
    assert library is accepted  # the rule is the library's
    if accepted:
        read_adapter(path)
    else:
        with pytest.raises(ReadError):
            read_adapter(path)


def test_header_length_limit_is_the_librarys(tmp_path: Path) -> None:
    """100,000,000 bytes, not 100 MiB (checked before anything is read)."""
    path = tmp_path / "x.safetensors"
    path.write_bytes(struct.pack("<Q", 100_000_001) + b"{}")
    with pytest.raises(ReadError, match="exceeds the 100000000 limit"):
        read_adapter(path)
