"""Dataset loading: file kinds, folders, eval sets, fingerprints, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftui.train.data import DataError, fingerprint, load_examples, read_source, split_eval

from .conftest import write_jsonl


def test_jsonl_txt_and_json_files(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "a.jsonl", ["one", "  ", "two"])
    (tmp_path / "b.txt").write_text("three\n\nfour\n")
    (tmp_path / "c.json").write_text(json.dumps([{"text": "five"}]))
    assert read_source(str(tmp_path / "a.jsonl")) == ["one", "two"]
    assert read_source(str(tmp_path / "b.txt")) == ["three", "four"]
    assert read_source(str(tmp_path / "c.json")) == ["five"]
    assert read_source(str(tmp_path)) == ["one", "two", "three", "four", "five"]


def test_folder_eval_files_become_the_eval_set(tmp_path: Path) -> None:
    write_jsonl(tmp_path / "train.jsonl", ["a", "b", "c"])
    write_jsonl(tmp_path / "eval.jsonl", ["x"])
    examples = load_examples(str(tmp_path), None, 0.0, "text", 1)
    assert examples.train == ["a", "b", "c"] and examples.eval == ["x"]
    assert examples.eval_path == str(tmp_path / "eval.jsonl")


def test_eval_split_is_seeded_and_disjoint() -> None:
    texts = [f"t{i}" for i in range(20)]
    train, held = split_eval(texts, 0.25, seed=3)
    assert len(held) == 5 and not set(train) & set(held) and sorted(train + held) == sorted(texts)
    assert split_eval(texts, 0.25, seed=3) == (train, held)


def test_fingerprint_depends_on_text_and_order() -> None:
    assert fingerprint(["a", "b"]).startswith("sha256:")
    assert fingerprint(["a", "b"]) == fingerprint(["a", "b"])
    assert fingerprint(["a", "b"]) != fingerprint(["b", "a"])
    assert fingerprint(["ab"]) != fingerprint(["a", "b"])


@pytest.mark.parametrize(
    ("content", "message"),
    [('{"text": 3}\n', "line 1: 'text' is int, not a string"),
     ("[1, 2]\n", "line 1: expected a JSON object, found list"),
     ('{"text": "ok"}\n{"body": "x"}\n', "line 2: no text field 'text' \\(keys: body\\)"),
     ('{"text": "ok"\n', "line 1: invalid JSON")],
)  # fmt: skip
def test_errors_name_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_source(str(path))


def test_unsupported_and_binary_files(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported file type"):
        read_source(str(tmp_path / "x.csv"))
    (tmp_path / "y.txt").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DataError, match="not UTF-8"):
        read_source(str(tmp_path / "y.txt"))
