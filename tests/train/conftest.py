"""Shared fixtures for the training tests: offline, tiny data, one shared trained version.

Every training here uses the built-in tiny model, a few dozen examples, max_length 64 and
1-2 epochs: a run takes a second or two on a CPU once the libraries are imported.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Before any Hugging Face import: no network, no telemetry, no progress bars.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from ftui.train.events import Event  # noqa: E402
from ftui.train.paths import ASSETS  # noqa: E402
from ftui.train.spec import RunSpec  # noqa: E402

DEMO = ASSETS / "demo_data"


def demo_texts(name: str) -> list[str]:
    with open(DEMO / name, encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def write_jsonl(path: Path, texts: list[str], field: str = "text") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for text in texts:
            handle.write(json.dumps({field: text}) + "\n")
    return path


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """48 training and 8 eval examples from the demo data: 6 steps per epoch at batch 8."""
    folder = tmp_path_factory.mktemp("data")
    train = write_jsonl(folder / "train.jsonl", demo_texts("train.jsonl")[:48])
    evals = write_jsonl(folder / "eval.jsonl", demo_texts("eval.jsonl")[:8])
    return train, evals


@pytest.fixture
def make_spec(small_data: tuple[Path, Path], tmp_path: Path) -> Callable[..., RunSpec]:
    """A fast spec on the small data in a fresh root; keyword arguments override it."""

    def build(**overrides: Any) -> RunSpec:
        train, evals = small_data
        values: dict[str, Any] = {
            "data": str(train), "eval_data": str(evals), "r": 4, "epochs": 1,
            "learning_rate": 1e-3, "max_length": 64, "root": str(tmp_path / "versions"),
        }  # fmt: skip
        values.update(overrides)
        return RunSpec.defaults(values["root"]).with_overrides(values)

    return build


@dataclass
class TrainedRun:
    result: Any
    root: Path
    events: list[Event]
    spec: RunSpec


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory, small_data: tuple[Path, Path]) -> TrainedRun:
    """One completed run (r=4, 2 epochs, eval set) shared by the read-only tests."""
    from ftui.train.engine import run_training

    root = tmp_path_factory.mktemp("shared") / "versions"
    train, evals = small_data
    spec = RunSpec.defaults(root).with_overrides(
        {
            "data": str(train),
            "eval_data": str(evals),
            "r": "4",
            "alpha": "8",
            "epochs": "2",
            "lr": "1e-3",
            "max_length": "64",
        }  # fmt: skip
    )
    events: list[Event] = []
    result = run_training(spec, events.append)
    assert result.status == "completed", result.error
    return TrainedRun(result, root, events, spec)


@pytest.fixture(scope="session")
def local_base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built-in model at an absolute path, like a user's own model folder."""
    target = tmp_path_factory.mktemp("models") / "tiny"
    shutil.copytree(ASSETS / "tiny-gpt2", target)
    return target
