"""Aliases: set, move, remove, list; names everywhere; two shells at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from disk_helpers import REPO, A, B, C, folder, ftui

from ftui.store import scan
from ftui.store.aliases import (
    ALIASES_FILE,
    AliasError,
    alias_problem,
    read_aliases,
    remove_alias,
    set_alias,
)
from ftui.store.query import parse_query


def test_set_move_remove_and_list(samples: Path) -> None:
    proc = ftui("alias", "--root", str(samples), "prod", f"v_{A}")
    assert proc.returncode == 0, proc.stderr
    assert read_aliases(samples) == {"prod": A}
    proc = ftui("alias", "--root", str(samples), "prod", f"{B}:66")
    assert proc.stdout.strip() == f"prod -> {B}:checkpoint-66 (was {A})"
    assert read_aliases(samples) == {"prod": f"{B}:checkpoint-66"}
    ftui("alias", "--root", str(samples), "staging", "prod")  # an alias of an alias
    listing = json.loads(ftui("alias", "--root", str(samples), "--json").stdout)
    assert [(r["alias"], r["checkpoint"]) for r in listing["aliases"]] == [
        ("prod", "checkpoint-66"), ("staging", "checkpoint-66")]  # fmt: skip
    assert ftui("alias", "--root", str(samples), "--rm", "prod").returncode == 0
    assert read_aliases(samples) == {"staging": f"{B}:checkpoint-66"}


def test_aliases_reach_versions_rows_and_filters(samples: Path) -> None:
    set_alias(samples, "prod", A)
    set_alias(samples, "best-ckpt", f"{B}:checkpoint-66")
    by_id = {v.id: v for v in scan(samples)}
    assert dict(by_id[A].aliases) == {"prod": None}
    assert dict(by_id[B].aliases) == {"best-ckpt": "checkpoint-66"}
    assert not by_id[C].aliases
    assert [v.id for v in parse_query("alias:prod").filter(by_id.values())] == [A]
    assert [v.id for v in parse_query("prod").filter(by_id.values())] == [A]


@pytest.mark.parametrize(
    ("name", "why"),
    [("a/b", "separator"), ("a\x1bb", "control"), ("", "empty"), ("x:1", "checkpoint"),
     ("two words", "letters"), ("_x", "letters"), ("é" * 70, "longer")],
)  # fmt: skip
def test_bad_alias_names_change_nothing(samples: Path, name: str, why: str) -> None:
    problem = alias_problem(name)
    assert problem is not None and why in problem
    proc = ftui("alias", "--root", str(samples), name, A)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1
    assert "\x1b" not in proc.stderr
    assert not (samples / ALIASES_FILE).exists()


def test_missing_version_and_id_clash_are_refused(samples: Path) -> None:
    for args in (("prod", "nope"), ("prod", f"{A}:checkpoint-5"), (B, A)):
        proc = ftui("alias", "--root", str(samples), *args)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc
        assert len(proc.stderr.splitlines()) == 1
    assert not (samples / ALIASES_FILE).exists()
    with pytest.raises(AliasError, match="no alias"):
        remove_alias(samples, "prod")


def test_damaged_alias_file_is_reported_not_crashed_on(samples: Path) -> None:
    (samples / ALIASES_FILE).write_text("{not json")
    proc = ftui("path", "--root", str(samples), A)
    assert proc.returncode == 1 and "aliases.json" in proc.stderr
    assert len(scan(samples)) == 3  # scanning still works
    with pytest.raises(AliasError):
        set_alias(samples, "prod", A)
    assert (samples / ALIASES_FILE).read_text() == "{not json"  # never overwritten


def test_path_in_a_script(samples: Path) -> None:
    set_alias(samples, "prod", f"{A}:checkpoint-66")
    script = (
        "import subprocess, sys\n"
        'folder = subprocess.run([sys.executable, "-m", "ftui.cli", "path", "prod", "--root",'
        f" {str(samples)!r}], capture_output=True, text=True, check=True).stdout.strip()\n"
        'print(open(folder + "/adapter_config.json").read()[:1])\n'
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{"
    proc = ftui("path", "prod", cwd=samples.parent)  # --root defaults to ./model_versions
    assert proc.returncode == 0
    assert proc.stdout.strip() == str(folder(samples, A) / "checkpoint-66")
    assert ftui("path", "--root", str(samples), f"v_{A}").stdout.strip() == str(folder(samples, A))


def test_two_shells_moving_one_alias_at_once(samples: Path) -> None:
    """Many concurrent `ftui alias` runs: the file stays readable, one winner each round."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for _ in range(3):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "ftui.cli", "alias", "--root", str(samples), "prod", v],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for v in (A, B, C, A, B, C)
        ]  # fmt: skip
        for proc in procs:
            assert proc.wait(timeout=120) == 0
        final = read_aliases(samples)
        assert set(final) == {"prod"} and final["prod"] in (A, B, C)


def test_concurrent_different_aliases_all_survive(samples: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    names = [f"n{i}" for i in range(8)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "ftui.cli", "alias", "--root", str(samples), name, B],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for name in names
    ]  # fmt: skip
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert read_aliases(samples) == dict.fromkeys(names, B)
    leftovers = [p.name for p in samples.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_other_commands_accept_aliases(samples: Path) -> None:
    set_alias(samples, "prod", A)
    proc = ftui("inspect", "prod", "--root", str(samples), "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["version"] == A
    proc = ftui("compare", "prod", f"{B}:66", "--root", str(samples), "--json")
    assert proc.returncode == 0, proc.stderr


def test_an_aliased_version_or_checkpoint_cannot_be_deleted(samples: Path) -> None:
    from ftui.store import Refused, removal_plan

    set_alias(samples, "prod", A)
    set_alias(samples, "old", f"{B}:checkpoint-33")
    by_id = {v.id: v for v in scan(samples)}
    with pytest.raises(Refused, match="aliased as prod"):
        removal_plan(by_id[A], root=samples)
    with pytest.raises(Refused, match="aliased as old"):
        removal_plan(by_id[B], root=samples)  # the whole version holds the checkpoint
    with pytest.raises(Refused, match="aliased as old"):
        removal_plan(by_id[B], by_id[B].checkpoint("checkpoint-33"), root=samples)
    paths, _ = removal_plan(by_id[B], by_id[B].checkpoint("checkpoint-66"), root=samples)
    assert paths == [folder(samples, B) / "checkpoint-66"]
