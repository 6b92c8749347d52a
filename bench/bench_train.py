"""Overhead of ftui's training engine over a plain SFTTrainer.

The same tiny LoRA training (built-in tiny GPT-2, the demo data, identical SFTConfig
arguments including per-epoch checkpoints) runs two ways, alternately, several times:

- plain: SFTTrainer with no ftui callback, no events, no metadata;
- ftui:  `run_training` (callbacks, progress/loss events to a listener and events.jsonl,
         per-epoch metadata writes, heartbeat thread).

The compared figures are taken around `Trainer.train()` (the training loop, including its
checkpoint saves and ftui's callbacks): process CPU time (robust on a shared machine, with
torch on one thread so all compute is in-process) and wall time; median over the repeats.
Target: ftui adds under 5%.

    .venv/bin/python bench/bench_train.py [--repeats 5] [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ftui.train.spec import RunSpec  # noqa: E402

LOOP: list[tuple[float, float]] = []  # (cpu, wall) of each Trainer.train() call


def measure_trainer_loop() -> None:
    """Wrap Trainer.train (for both variants alike) to time exactly the training loop."""
    from transformers import Trainer

    original = Trainer.train

    def timed(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            LOOP.append((time.process_time() - cpu, time.perf_counter() - wall))

    Trainer.train = timed  # type: ignore[method-assign]


def plain_run(spec: RunSpec, out: Path) -> tuple[float, float]:
    """(train loop CPU seconds, train loop wall seconds)."""
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    from ftui.train import modelprep
    from ftui.train.data import load_examples

    hardware = modelprep.resolve_hardware(spec)
    examples = load_examples(spec.data, spec.eval_data, spec.eval_split, spec.text_field, spec.seed)
    tokenizer = modelprep.load_tokenizer(spec.base_model)
    model = modelprep.load_base_model(spec.base_model, hardware)
    targets, fan_in_fan_out = modelprep.resolve_targets(model, spec.target_modules)
    peft_model = modelprep.wrap_fresh(model, spec, targets, fan_in_fan_out)
    positions = modelprep.max_positions(model) or spec.max_length
    args = modelprep.trainer_arguments(
        spec, hardware, examples.num_train, bool(examples.eval), min(spec.max_length, positions), 1
    )
    args["output_dir"] = str(out)
    trainer = SFTTrainer(
        model=peft_model,
        args=SFTConfig(**args),
        train_dataset=Dataset.from_list([{"text": t} for t in examples.train]),
        eval_dataset=Dataset.from_list([{"text": t} for t in examples.eval])
        if examples.eval
        else None,
        processing_class=tokenizer,
    )
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.train()
    trainer.save_model(str(out))
    trainer.save_state()
    return LOOP[-1]


def ftui_run(spec: RunSpec) -> tuple[float, float]:
    from ftui.train.engine import run_training

    events: list[object] = []
    result = run_training(spec, events.append)
    if result.status != "completed":
        raise SystemExit(f"ftui run failed: {result.error}")
    return LOOP[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", default="2")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument(
        "--eval", action="store_true", help="also evaluate each epoch (demo eval set)"
    )
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    measure_trainer_loop()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "versions"
        spec = RunSpec.defaults(root).with_overrides(
            {
                "epochs": args.epochs,
                "lr": "1e-3",
                "max_length": "128",
                "eval_data": "ftui:demo_data/eval.jsonl" if args.eval else "none",
            }  # fmt: skip
        )
        ftui_run(spec)  # warm-up: imports, first-call costs
        plain_cpu: list[float] = []
        ftui_cpu: list[float] = []
        plain_wall: list[float] = []
        ftui_wall: list[float] = []
        for index in range(args.repeats):
            order = (0, 1) if index % 2 == 0 else (1, 0)  # alternate to spread machine noise
            for which in order:
                if which == 0:
                    cpu, wall = plain_run(spec, Path(tmp) / f"plain_{index}")
                    plain_cpu.append(cpu)
                    plain_wall.append(wall)
                else:
                    cpu, wall = ftui_run(spec)
                    ftui_cpu.append(cpu)
                    ftui_wall.append(wall)

    p_cpu, f_cpu = statistics.median(plain_cpu), statistics.median(ftui_cpu)
    p_wall, f_wall = statistics.median(plain_wall), statistics.median(ftui_wall)
    steps = 33 * float(args.epochs)
    print(
        f"setup: tiny-gpt2, 260 demo examples, batch 8, {args.epochs} epochs (~{steps:.0f} "
        f"steps), eval {'on' if args.eval else 'off'}, per-epoch checkpoints, torch threads "
        f"{torch.get_num_threads()}, {args.repeats} repeats, median of Trainer.train()"
    )
    print(f"plain SFTTrainer   cpu {p_cpu:7.3f} s   wall {p_wall:7.3f} s")
    print(f"ftui run_training  cpu {f_cpu:7.3f} s   wall {f_wall:7.3f} s")
    print(f"overhead ratio     cpu {f_cpu / p_cpu:7.3f}     wall {f_wall / p_wall:7.3f}")
    print(f"cpu per run  plain: {', '.join(f'{v:.3f}' for v in plain_cpu)}")
    print(f"cpu per run  ftui:  {', '.join(f'{v:.3f}' for v in ftui_cpu)}")
    print(f"wall per run plain: {', '.join(f'{v:.3f}' for v in plain_wall)}")
    print(f"wall per run ftui:  {', '.join(f'{v:.3f}' for v in ftui_wall)}")


if __name__ == "__main__":
    main()
