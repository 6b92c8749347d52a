"""Importing the training package must stay cheap: no HF stack, never textual."""

from __future__ import annotations

import subprocess
import sys

HEAVY = {"torch", "transformers", "peft", "trl", "datasets", "accelerate", "textual"}


def test_importing_train_loads_no_heavy_library() -> None:
    code = (
        "import sys, ftui.train, ftui.train.spec, ftui.train.events, ftui.train.commands, "
        "ftui.train.retrain, ftui.train.engine, ftui.train.data, ftui.train.callbacks;"
        "from ftui.train import RunSpec, run_training, spec_for_retrain;"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not set(out.stdout.split()) & HEAVY


def test_spec_validation_needs_no_heavy_library() -> None:
    code = (
        "import sys; from ftui.train.spec import RunSpec; RunSpec.defaults('/tmp/x').validate();"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert not set(out.stdout.split()) & HEAVY
