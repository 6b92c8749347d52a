"""The tutorial's script (shared/seed/model-versioning-tutorial.txt), ported to the
installed trl, run offline on the tiny GPT-2.

Kept line for line where the installed stack allows; each change is one the port needs
(see HF-STACK.md): `max_seq_length` -> `max_length`, `tokenizer=` -> `processing_class=`,
`dataset_text_field` inside `SFTConfig`, the list of dicts wrapped in a `Dataset`, bf16
and activation checkpointing off on a CPU, a learning rate that moves a LoRA run, and
peft's GPT-2 settings (`c_attn`, `fan_in_fan_out`) said explicitly. `model_name` is a
local folder (`./tiny-gpt2`, nothing can be downloaded here) instead of `gpt2`.

Options reproduce the tutorial's advice and the folders users end up with:
`per_epoch` adds a callback that saves a checkpoint after each epoch ("use trainer
callbacks to auto-save after each epoch"); `save_final=False` leaves only those
checkpoints (a Trainer output_dir whose run never reached `save_model`).

    python tests/train/tutorial_script.py WORKDIR [--r 8] [--epochs 1] [--per-epoch]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")


def run(
    r: int = 8, epochs: int = 1, per_epoch: bool = False, save_final: bool = True
) -> dict[str, Any]:
    """One run of the tutorial's script in the current directory; returns its metadata."""
    import json
    from datetime import datetime

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        TrainerCallback,
        TrainerControl,
        TrainerState,
        TrainingArguments,
    )
    from trl import SFTConfig, SFTTrainer

    model_name = "./tiny-gpt2"
    tokenizer = AutoTokenizer.from_pretrained(model_name)
    tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_name, dtype=torch.float32)
    lora_config = LoraConfig(
        r=r,
        lora_alpha=32,
        lora_dropout=0.1,
        bias="none",
        task_type="CAUSAL_LM",
        target_modules=["c_attn"],  # port: GPT-2's attention, said explicitly
        fan_in_fan_out=True,  # port: GPT-2 uses Conv1D
    )
    train_dataset = Dataset.from_list(
        [
            {"text": "The capital of France is Paris. Paris is beautiful."},
            {"text": "Machine learning is about learning patterns from data."},
            {"text": "Python is a popular programming language for AI."},
        ]
    )
    version_id = datetime.now().strftime("%Y%m%d_%H%M%S")
    output_dir = f"./model_versions/v_{version_id}"
    metadata_path = f"./model_versions/metadata_{version_id}.json"
    os.makedirs("./model_versions", exist_ok=True)
    training_config = SFTConfig(
        output_dir=output_dir,
        num_train_epochs=epochs,
        per_device_train_batch_size=2,
        max_length=128,  # port: max_seq_length
        save_strategy="no",
        logging_steps=1,
        dataset_text_field="text",  # port: moved into SFTConfig
        bf16=False,  # port: SFTConfig's default fails on a CPU
        use_cpu=not torch.cuda.is_available(),
        learning_rate=2e-3,  # port: the default 2e-5 barely moves a LoRA run
        report_to="none",
        disable_tqdm=True,
        **_no_activation_checkpointing(SFTConfig),
    )

    class SaveEveryEpoch(TrainerCallback):  # the tutorial's advice: a checkpoint per epoch
        def on_epoch_end(
            self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **_: Any
        ) -> TrainerControl:
            control.should_save = True
            return control

    trainer = SFTTrainer(
        model=model,
        args=training_config,
        train_dataset=train_dataset,
        peft_config=lora_config,
        processing_class=tokenizer,  # port: tokenizer=
        callbacks=[SaveEveryEpoch()] if per_epoch else None,
    )
    trainer.train()
    if save_final:
        trainer.save_model(output_dir)
    metadata = {
        "version_id": version_id,
        "timestamp": datetime.now().isoformat(),
        "model_name": model_name,
        "lora_config": {
            "r": lora_config.r,
            "lora_alpha": lora_config.lora_alpha,
            "lora_dropout": lora_config.lora_dropout,
        },
        "num_samples": len(train_dataset),
        "num_epochs": training_config.num_train_epochs,
    }
    with open(metadata_path, "w") as f:
        json.dump(metadata, f, indent=2)
    print(f"Model saved to: {output_dir}")
    print(f"Metadata saved to: {metadata_path}")
    if save_final:
        loaded_model = AutoModelForCausalLM.from_pretrained(output_dir)
        print(f"\nModel loaded successfully from {output_dir}")
        print(f"Model type: {type(loaded_model)}")
    return metadata


def _no_activation_checkpointing(config_class: type) -> dict[str, bool]:
    """SFTConfig turns activation checkpointing on; off here (erratic and slow on a CPU).
    transformers 5 renamed the field."""
    import dataclasses

    names = {f.name for f in dataclasses.fields(config_class)}
    key = (
        "activation_checkpointing"
        if "activation_checkpointing" in names
        else "gradient_checkpointing"
    )
    return {key: False}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--r", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--per-epoch", action="store_true")
    args = parser.parse_args(argv)
    os.chdir(args.workdir)
    run(args.r, args.epochs, args.per_epoch)


if __name__ == "__main__":
    sys.exit(main())
