"""The one resolver for version names: ids with or without `v_`, checkpoints, aliases."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ftui.store import Checkpoint, Layout, Status, Version
from ftui.store.naming import (
    UnknownVersion,
    bare_id,
    find_version,
    name_variants,
    resolve_version,
    split_checkpoint,
)


def version(version_id: str, *steps: int) -> Version:
    path = Path("/r") / version_id
    checkpoints = tuple(Checkpoint(f"checkpoint-{s}", path / f"checkpoint-{s}", s) for s in steps)
    return Version(version_id, path, None, Layout.FTUI, Status.COMPLETED, checkpoints=checkpoints)


VERSIONS = [version("20260415_143022", 4, 8), version("v_legacy"), version("20260415_143022_2")]


@pytest.mark.parametrize("name", ["20260415_143022", "v_20260415_143022", " 20260415_143022 "])
def test_an_id_with_or_without_v_names_the_same_version(name: str) -> None:
    assert resolve_version(VERSIONS, name).version.id == "20260415_143022"


def test_an_exact_id_wins_over_the_other_spelling() -> None:
    assert find_version(VERSIONS, "v_legacy") is VERSIONS[1]
    assert find_version(VERSIONS, "legacy") is VERSIONS[1]
    assert find_version(VERSIONS, "20260415_143022_2") is VERSIONS[2]


@pytest.mark.parametrize("suffix", [":checkpoint-8", ":8", ": 8"])
def test_checkpoints_by_name_or_step(suffix: str) -> None:
    resolved = resolve_version(VERSIONS, "v_20260415_143022" + suffix)
    assert resolved.checkpoint is not None and resolved.checkpoint.step == 8
    assert resolved.label == "20260415_143022:checkpoint-8"


def test_aliases_resolve_first_and_may_point_at_a_checkpoint() -> None:
    aliases = {"prod": "20260415_143022:4", "v_legacy": "20260415_143022_2"}
    prod = resolve_version(VERSIONS, "prod", aliases)
    assert (prod.version.id, prod.checkpoint and prod.checkpoint.step, prod.alias) == (
        "20260415_143022",
        4,
        "prod",
    )
    assert resolve_version(VERSIONS, "v_legacy", aliases).version.id == "20260415_143022_2"


def test_unknown_names_give_one_line_that_lists_what_exists() -> None:
    with pytest.raises(UnknownVersion) as missing:
        resolve_version(VERSIONS, "nope")
    assert "no version 'nope'" in str(missing.value) and "20260415_143022" in str(missing.value)
    with pytest.raises(UnknownVersion) as no_ckpt:
        resolve_version(VERSIONS, "20260415_143022:3")
    assert "checkpoint-4, checkpoint-8" in str(no_ckpt.value)
    with pytest.raises(UnknownVersion, match="alias 'prod'"):
        resolve_version(VERSIONS, "prod", {"prod": "gone"})


@given(st.text(min_size=1, max_size=30).filter(lambda s: ":" not in s))
def test_variants_hold_the_name_with_and_without_v(name: str) -> None:
    variants = name_variants(name)
    assert variants[0] == name and len(set(variants)) == len(variants)
    assert {bare_id(name), "v_" + bare_id(name)} <= set(variants)
    assert split_checkpoint(name) == (name.strip(), None)
