"""`ftui inspect` and `ftui compare` on a folder of real peft adapters, checked against torch.

The version is a Trainer output folder whose final adapter is peft's r=4 one, with
checkpoint-1 holding the r=8 adapter and checkpoint-2 the final one again.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from ftui.cli import main
from tests.store.peft_oracle import Oracle

torch = pytest.importorskip("torch")
VERSION = "v_20260101_120000"
FILES = ("adapter_model.safetensors", "adapter_config.json")


@pytest.fixture
def root(tmp_path: Path, peft_adapters) -> Path:
    run = tmp_path / "model_versions" / VERSION
    for folder, oracle in ((run, "r4"), (run / "checkpoint-1", "r8"), (run / "checkpoint-2", "r4")):
        folder.mkdir(parents=True)
        for name in FILES:
            shutil.copy(peft_adapters[oracle].folder / name, folder / name)
    return tmp_path / "model_versions"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def torch_norm(oracle: Oracle) -> float:
    return math.sqrt(sum(float(torch.sum(d**2)) for d in oracle.deltas.values()))


def torch_cosine(one: Oracle, two: Oracle) -> float:
    inner = sum(float(torch.sum(one.deltas[k] * two.deltas[k])) for k in one.deltas)
    return inner / (torch_norm(one) * torch_norm(two))


def test_inspect_json_matches_torch_and_names_work_with_or_without_v(
    root: Path, capsys, peft_adapters
) -> None:
    r4, r8 = peft_adapters["r4"], peft_adapters["r8"]
    code, out, _ = run(capsys, "inspect", VERSION.removeprefix("v_"), "--root", str(root), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["version"] == VERSION
    assert report["summary"]["total_norm"] == pytest.approx(torch_norm(r4), rel=1e-5)
    for module in report["modules"]:
        sigma = torch.linalg.svdvals(r4.deltas[module["module"]])
        assert module["spectral"] == pytest.approx(float(sigma[0]), rel=1e-5)
    points = {p["checkpoint"]: p for p in report["checkpoints"]}
    assert points["checkpoint-1"]["norm"] == pytest.approx(torch_norm(r8), rel=1e-5)
    assert points["checkpoint-1"]["cosine"] == pytest.approx(torch_cosine(r8, r4), rel=1e-5)
    assert points["checkpoint-2"]["cosine"] == pytest.approx(1.0)
    heat = report["heatmap"]
    assert heat["layers"] == ["0", "1"]
    assert heat["types"] == ["attn.c_attn", "attn.c_proj", "mlp.c_proj"]  # c_proj: both


def test_inspect_text_shows_summary_table_heatmap_and_checkpoints(root: Path, capsys) -> None:
    code, out, _ = run(capsys, "inspect", VERSION, "--root", str(root), "--metric", "erank")
    assert code == 0
    assert "90% of the energy in" in out and "ΔW = s·B·A" in out
    assert "effective rank by layer × module" in out
    assert "checkpoint-1" in out and "cos +1.000" in out
    assert "\x1b" not in out  # no colour codes: readable under NO_COLOR and in files
    assert max(len(line) for line in out.splitlines()) <= 100


def test_compare_a_checkpoint_of_rank_8_with_the_rank_4_version(
    root: Path, capsys, peft_adapters
) -> None:
    r4, r8 = peft_adapters["r4"], peft_adapters["r8"]
    code, out, _ = run(capsys, "compare", VERSION, f"{VERSION}:checkpoint-1", "--root", str(root),
                       "--json")  # fmt: skip
    assert code == 0
    report = json.loads(out)
    assert report["b"] == f"{VERSION}/checkpoint-1"
    assert report["overall_cosine"] == pytest.approx(torch_cosine(r4, r8), rel=1e-5)
    module = report["modules"][0]
    assert module["input_subspaces"]["i"] == [1, 2, 4] and module["input_subspaces"]["j"] == [
        1, 2, 4, 8]  # fmt: skip
    code, out, _ = run(capsys, "compare", VERSION, f"{VERSION}:1", "--root", str(root))
    assert code == 0 and "top-1 direction shared:" in out and "φ(i, j)" in out


def test_unknown_names_and_roots_exit_2_with_one_line(root: Path, capsys, tmp_path: Path) -> None:
    code, _, err = run(capsys, "inspect", "nope", "--root", str(root))
    assert code == 2 and "no version 'nope'" in err and err.count("\n") == 1
    code, _, err = run(capsys, "compare", VERSION, f"{VERSION}:checkpoint-9", "--root", str(root))
    assert code == 2 and "checkpoint-1, checkpoint-2" in err
    code, _, err = run(capsys, "inspect", VERSION, "--root", str(tmp_path / "missing"))
    assert code == 2 and "no such folder" in err


def test_damaged_adapter_exits_1_naming_the_file(root: Path, capsys) -> None:
    weights = root / VERSION / "checkpoint-1" / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    code, _, err = run(capsys, "inspect", f"{VERSION}:checkpoint-1", "--root", str(root))
    assert code == 1 and "adapter_model.safetensors" in err
