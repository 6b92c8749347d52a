"""The safetensors header reader agrees with the safetensors library and refuses damage."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from ftui.store import ReadError, read_adapter
from ftui.store.safetensors_header import lora_modules, natural_key
from ftui.testing.synth import lora_tensors


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
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [0]}}, b"\0" * 4, "two integers"),
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
