"""`ftui --check` (store pass only: --no-ui) on samples, damage and unusable roots."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from ftui.cli import main
from ftui.store.check import check_root

REPO = Path(__file__).resolve().parents[2]
DAMAGED = REPO / "tests" / "fixtures" / "damaged_runs"


def test_samples_are_healthy(capsys) -> None:
    assert main(["--check", "--no-ui", str(REPO / "sample_runs")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("0 damaged")
    assert len(lines) - 1 == len(list((REPO / "sample_runs").glob("metadata_*.json")))


def test_damaged_fixture_names_the_file_and_reason() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ftui.cli", "--check", "--no-ui", str(DAMAGED)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr + proc.stdout
    bad = [line for line in proc.stdout.splitlines() if "damaged" in line.split()[:2]]
    assert len(bad) == 1
    assert "v_20260302_090000/adapter_model.safetensors: truncated" in bad[0]
    assert proc.stdout.splitlines()[-1] == "2 versions, 1 healthy, 1 damaged"


def test_json_report(capsys) -> None:
    assert main(["--check", "--no-ui", "--json", str(DAMAGED)]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["exit_code"] == 1
    bad = [v for v in report["versions"] if not v["healthy"]]
    assert bad[0]["problems"][0]["file"] == "v_20260302_090000/adapter_model.safetensors"


def test_unusable_root_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["--check", "--no-ui", str(tmp_path / "missing")]) == 2
    assert "no such folder" in capsys.readouterr().out


def test_nan_loss_and_missing_base_model(root: Path, capsys) -> None:
    state_path = root / "v_20260102_100000" / "trainer_state.json"
    state = json.loads(state_path.read_text())
    state["log_history"][3]["loss"] = math.nan
    state_path.write_text(json.dumps(state))
    meta_path = root / "metadata_20260101_100000.json"
    meta = json.loads(meta_path.read_text())
    meta["model_name"] = "/no/such/base-model"
    meta_path.write_text(json.dumps(meta))
    report = check_root(root)
    problems = {c.version.id: [str(p) for p in c.problems] for c in report.versions}
    assert problems["20260102_100000"] == [
        "trainer_state.json: non-finite loss: loss=nan at step 4"
    ]
    assert "base model path /no/such/base-model does not exist" in problems["20260101_100000"][0]
    assert report.exit_code == 1
    assert main(["--check", "--no-ui", "--json", str(root)]) == 1
    json.loads(capsys.readouterr().out)  # NaN never leaks into the JSON


def test_control_characters_never_reach_the_terminal(root: Path, capsys) -> None:
    meta_path = root / "metadata_20260101_100000.json"
    meta = json.loads(meta_path.read_text())
    meta["model_name"] = "\x1b[31mred\x1b[0m\nnext"
    meta_path.write_text(json.dumps(meta))
    main(["--check", "--no-ui", str(root)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mred" in out


def test_check_does_not_import_the_training_stack() -> None:
    code = (
        "import sys; from ftui.cli import main; main(['--check', '--no-ui', 'sample_runs']);"
        "heavy = {'torch', 'transformers', 'peft', 'trl', 'textual'} & set(sys.modules);"
        "print('HEAVY', sorted(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=False)  # fmt: skip
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("flag", ["--json", "--strict", "--no-ui"])
def test_check_flags_without_check_are_an_error(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ftui --json DIR` used to open the interactive app; now it says what is missing."""
    from ftui.cli import main

    with pytest.raises(SystemExit) as stop:
        main([flag, str(tmp_path)])
    assert stop.value.code == 2
    assert f"{flag} only goes with --check" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["beside", "inside", "nowhere"])
def test_relative_base_model_resolves_like_the_tutorial_script(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """`./tiny-gpt2` as the script saw it: beside `model_versions/`, else inside it."""
    from synth import write_version

    root = tmp_path / "project" / "model_versions"
    root.mkdir(parents=True)
    write_version(root, "20260101_000000", base_model="./tiny-gpt2", layers=1, history_entries=4)
    if where != "nowhere":
        (root.parent if where == "beside" else root).joinpath("tiny-gpt2").mkdir()
    code = main(["--check", "--no-ui", str(root)])
    out = capsys.readouterr().out
    assert code == (1 if where == "nowhere" else 0), out
    if where == "nowhere":
        assert "base model path ./tiny-gpt2 does not exist" in out


def test_empty_root_says_so_and_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--check", "--no-ui", str(tmp_path)]) == 0
    assert "no versions in" in capsys.readouterr().out
