"""RunSpec: defaults, parsing of overrides, validation errors, round trips."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftui.train.paths import DEMO_EVAL, DEMO_TRAIN
from ftui.train.spec import BUILTIN_MODEL, RunSpec, SpecError

from .conftest import write_jsonl


def test_defaults_use_the_builtin_model_and_demo_data(tmp_path: Path) -> None:
    spec = RunSpec.defaults(tmp_path)
    assert spec.base_model == BUILTIN_MODEL == "ftui:tiny-gpt2"
    assert (spec.data, spec.eval_data) == (DEMO_TRAIN, DEMO_EVAL)
    assert spec.root == str(tmp_path)
    spec.validate()


def test_overrides_parse_strings_and_aliases(tmp_path: Path) -> None:
    spec = RunSpec.defaults(tmp_path).with_overrides(
        {
            "r": "16",
            "lr": "1e-4",
            "epochs": "3",
            "lora_alpha": "32",
            "targets": "c_attn, c_proj",
            "continue_from_parent": "no",
            "eval_data": "none",
        }  # fmt: skip
    )
    assert spec.r == 16 and spec.learning_rate == 1e-4 and spec.epochs == 3.0
    assert spec.alpha == 32.0 and spec.target_modules == ["c_attn", "c_proj"]
    assert spec.continue_from_parent is False and spec.eval_data is None


def test_unknown_key_is_named(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="unknown setting 'rnak'"):
        RunSpec.defaults(tmp_path).with_overrides({"rnak": "16"})


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [("r", "abc", "r: expected an integer"), ("r", "1.5", "r: expected an integer"),
     ("lr", "fast", "learning_rate: expected a number"), ("lr", "nan", "finite"),
     ("continue_from_parent", "maybe", "true or false")],
)  # fmt: skip
def test_bad_values_are_refused(tmp_path: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        RunSpec.defaults(tmp_path).with_overrides({key: value})


def test_new_training_data_drops_the_demo_eval_set(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "mine.jsonl", ["a b c", "d e f"])
    assert RunSpec.defaults(tmp_path).with_overrides({"data": str(data)}).eval_data is None


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_integer_fields_round_trip_through_strings(value: int) -> None:
    assert RunSpec().with_overrides({"r": str(value), "seed": f" {value} "}).r == value


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_float_fields_round_trip_through_strings(value: float) -> None:
    spec = RunSpec().with_overrides({"learning_rate": repr(value), "alpha": str(value)})
    assert spec.learning_rate == value and math.isclose(spec.alpha, value)


@given(st.lists(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True), min_size=1, max_size=4))
def test_module_lists_parse_from_commas_or_spaces(names: list[str]) -> None:
    expected = list(dict.fromkeys(n for n in names if n not in ("none", "null", "auto", "default")))
    if not expected or len(expected) != len(dict.fromkeys(names)):
        return
    assert RunSpec().with_overrides({"target_modules": ",".join(names)}).target_modules == expected
    assert RunSpec().with_overrides({"target_modules": " ".join(names)}).target_modules == expected


@given(
    r=st.integers(1, 256), alpha=st.floats(0.5, 512), epochs=st.floats(0.1, 50),
    lr=st.floats(1e-7, 0.5), modules=st.one_of(st.none(), st.just(["c_attn", "c_proj"])),
    parent=st.one_of(st.none(), st.just("v_20260101_000000")),
)  # fmt: skip
def test_dict_round_trip(r: int, alpha: float, epochs: float, lr: float,
                         modules: list[str] | None, parent: str | None) -> None:  # fmt: skip
    spec = RunSpec(r=r, alpha=alpha, epochs=epochs, learning_rate=lr, target_modules=modules,
                   parent=parent, eval_data=None)  # fmt: skip
    assert RunSpec.from_dict(spec.to_dict()) == spec


def test_from_dict_ignores_unknown_and_fills_missing_keys() -> None:
    spec = RunSpec.from_dict({"r": 12, "future_setting": [1, 2], "lora_alpha_typo": 3})
    assert spec.r == 12 and spec.epochs == RunSpec().epochs


def test_editable_fields_name_real_fields() -> None:
    fields = RunSpec.editable_fields()
    names = {f.name for f in __import__("dataclasses").fields(RunSpec)}
    assert fields and all(name in names and label and kind for name, label, kind in fields)
    assert {"r", "alpha", "epochs", "learning_rate", "base_model", "data"} <= {f[0] for f in fields}


def _invalid(spec: RunSpec, message: str) -> None:
    with pytest.raises(SpecError, match=message) as info:
        spec.validate()
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"r": "0"}, "r must be a positive integer"),
     ({"alpha": "-1"}, "alpha must be a positive number"),
     ({"epochs": "0"}, "epochs must be a positive number"),
     ({"learning_rate": "0"}, "learning_rate must be a positive number"),
     ({"dropout": "1.5"}, "dropout"), ({"batch_size": "0"}, "batch_size"),
     ({"precision": "fp8"}, "precision must be one of"),
     ({"device": "tpu"}, "device must be one of"),
     ({"device": "cpu", "precision": "fp16"}, "fp16 needs a CUDA device"),
     ({"base_model": "/no/such/model"}, "base model not found: /no/such/model"),
     ({"base_model": "ftui:nope"}, "no such built-in model"),
     ({"continue_from_parent": "true"}, "need a parent version")],
)  # fmt: skip
def test_validation_errors_name_the_cause(tmp_path: Path, overrides: dict, message: str) -> None:
    _invalid(RunSpec.defaults(tmp_path).with_overrides(overrides), message)


def test_dataset_problems_are_found_before_training(tmp_path: Path) -> None:
    spec = RunSpec.defaults(tmp_path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    _invalid(spec.with_overrides({"data": str(empty)}), "is empty")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\n{"text": oops}\n')
    _invalid(spec.with_overrides({"data": str(bad)}), "bad.jsonl line 2: invalid JSON")
    other = write_jsonl(tmp_path / "other.jsonl", ["x"], field="content")
    _invalid(spec.with_overrides({"data": str(other)}), "no text field 'text' \\(keys: content\\)")
    _invalid(spec.with_overrides({"data": str(tmp_path / "missing.jsonl")}), "dataset not found")
    _invalid(spec.with_overrides({"data": "./relative/missing.txt"}), "dataset not found")


def test_model_folder_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    _invalid(RunSpec.defaults(tmp_path).with_overrides({"base_model": str(tmp_path / "model")}),
             "no config.json")  # fmt: skip


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _invalid(RunSpec.defaults(blocker / "versions"), "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_root_not_writable_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    _invalid(RunSpec.defaults(locked / "versions"), "not writable")


def test_hub_ids_pass_validation_and_paths_are_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    RunSpec.defaults(tmp_path).with_overrides({"base_model": "gpt2"}).validate()
    data = write_jsonl(tmp_path / "d.jsonl", ["a", "b"])
    monkeypatch.chdir(tmp_path)
    spec = RunSpec.defaults("versions").with_overrides({"data": "d.jsonl"}).normalized()
    assert spec.data == str(data) and spec.root == str(tmp_path / "versions")
    assert spec.base_model == BUILTIN_MODEL  # references stay references


def test_missing_relative_data_file_is_not_taken_for_a_hub_dataset(tmp_path: Path) -> None:
    _invalid(RunSpec.defaults(tmp_path).with_overrides({"data": "data/train.jsonl"}),
             "dataset not found: data/train.jsonl")  # fmt: skip
