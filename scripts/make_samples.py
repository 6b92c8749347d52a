"""Regenerate `sample_runs/` with ftui's own training engine.

Three versions on the built-in tiny model and the demo data (with its eval set): an r=4
and an r=8 run of 3 epochs, and a retrain child of the r=8 run with a changed learning
rate. Each keeps its per-epoch checkpoints, loss history and events. To stay small enough
to commit, optimizer/scheduler/RNG state, the pickled training_args.bin, tokenizer files
and model cards are removed, and absolute paths in the metadata are made relative. The
base model recorded in adapter_config.json (the built-in model's folder in this checkout)
becomes `./ftui/train/assets/tiny-gpt2`: relative to the folder that holds `sample_runs/`,
which is how ftui resolves a relative base, and how transformers does from the repo root.

    .venv/bin/python scripts/make_samples.py [--out sample_runs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ftui.store.writer import metadata_path, update_metadata  # noqa: E402
from ftui.train.engine import RunResult, run_training  # noqa: E402
from ftui.train.events import Event, LogLine  # noqa: E402
from ftui.train.retrain import spec_for_retrain  # noqa: E402
from ftui.train.spec import RunSpec  # noqa: E402

STRIP = {
    "optimizer.pt", "scheduler.pt", "rng_state.pth", "training_args.bin", "README.md",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "merges.txt", "chat_template.jinja", "added_tokens.json",
}  # fmt: skip


def show(event: Event) -> None:
    if isinstance(event, LogLine):
        print(f"  {event.text}", flush=True)


def train(spec: RunSpec) -> RunResult:
    result = run_training(spec, show)
    if result.status != "completed":
        raise SystemExit(f"sample run failed: {result.error}")
    print(f"-> {result.version_id}")
    return result


def strip(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.name in STRIP:
            path.unlink()
        elif path.is_file():
            path.chmod(0o644)  # safetensors files are written 0600


def relative_paths(root: Path, version_id: str, prefix: str, label: str) -> None:
    """Replace the temporary absolute root in the metadata strings by `label`."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(prefix):
            return label + value[len(prefix) :]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    def change(record: dict[str, Any]) -> None:
        record.update(fix(record))

    update_metadata(metadata_path(root, version_id), change)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "sample_runs")
    args = parser.parse_args()
    out = args.out.resolve()
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        root = Path(tmp) / "sample_runs"
        base = RunSpec.defaults(root).with_overrides({"epochs": "3", "lr": "1e-3", "alpha": "16"})
        train(base.with_overrides({"r": "4", "alpha": "8"}))
        r8 = train(base.with_overrides({"r": "8"}))
        assert r8.version_id is not None
        child = spec_for_retrain(root, r8.version_id, overrides={"lr": "3e-3", "epochs": "2"})
        train(child)
        strip(root)
        for meta in root.glob("metadata_*.json"):
            version_id = meta.name[len("metadata_") : -len(".json")]
            relative_paths(root, version_id, str(root), out.name)
        for log in [*root.rglob("events.jsonl"), *root.rglob("trainer_state.json")]:
            log.write_text(log.read_text(encoding="utf-8").replace(str(root), out.name))
        for config in root.rglob("adapter_config.json"):
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace(f'"{REPO}/', '"./'), encoding="utf-8")
        for leftover in root.glob(".metadata_*.lock"):
            leftover.unlink()
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(root), out)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out}: {len(list(out.glob('metadata_*.json')))} versions, {size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
