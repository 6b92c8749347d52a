"""Regenerate ftui's built-in offline base model, `ftui:tiny-gpt2`.

A GPT-2-style causal LM small enough to commit (2 layers, 64 dims, 2 heads, vocabulary of
1000) with a ByteLevel BPE tokenizer trained locally on the demo data, saved as
safetensors. It exists so that `ftui train` works on a fresh machine with no network,
not to write good text. Its weights are briefly pretrained (a few seconds, fixed seed)
on the demo data's questions and answers as separate plain sentences, so it knows the
words but not the question/answer layouts: a LoRA run on the demo data then has
something real to learn and its loss curve visibly falls.

    .venv/bin/python scripts/make_tiny_model.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

ASSETS = Path(__file__).resolve().parent.parent / "ftui" / "train" / "assets"
EOS, PAD = "<|endoftext|>", "<|pad|>"
VOCAB_SIZE = 1000


def demo_texts() -> list[str]:
    texts = []
    for name in ("train.jsonl", "eval.jsonl"):
        with open(ASSETS / "demo_data" / name, encoding="utf-8") as handle:
            texts += [json.loads(line)["text"] for line in handle if line.strip()]
    return texts


def plain_sentences() -> list[str]:
    """The demo examples cut into sentences, without their question/answer scaffolding."""
    sentences: set[str] = set()
    for text in demo_texts():
        for line in text.splitlines():
            for marker in ("### Instruction: Answer the kitchen question. ", "### Question: ",
                           "### Answer: ", "### Response: ", "Question: ", "Answer: ", "Q: ",
                           "A: ", "User: ", "Assistant: ", "Ask: ", "Reply: "):  # fmt: skip
                line = line.replace(marker, "")
            for part in line.replace("? ", "?\n").splitlines():
                if part.strip():
                    sentences.add(part.strip())
    return sorted(sentences)


def pretrain(model, tokenizer, steps: int, seed: int) -> float:  # type: ignore[no-untyped-def]
    """A short full-model warm-up on plain sentences; returns the last loss."""
    import random

    import torch

    rng = random.Random(seed)
    sentences = plain_sentences()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    loss_value = float("nan")
    for _ in range(steps):
        batch = tokenizer(
            [s + tokenizer.eos_token for s in rng.sample(sentences, 16)],
            return_tensors="pt", padding=True,
        )  # fmt: skip
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        loss_value = float(loss)
    model.eval()
    return loss_value


def build(out: Path, seed: int = 0, steps: int = 300) -> None:
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        demo_texts(), vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=[EOS, PAD]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=PAD
    )
    tokenizer.model_max_length = 128

    config = GPT2Config(
        vocab_size=VOCAB_SIZE, n_positions=128, n_embd=64, n_layer=2, n_head=2,
        bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(seed)
    model = GPT2LMHeadModel(config)
    torch.set_num_threads(1)  # reproducible float sums
    loss = pretrain(model, tokenizer, steps, seed)
    print(f"pretrained {steps} steps on plain sentences: loss {loss:.3f}")

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        # transformers 5 names its fast tokenizer "TokenizersBackend"; the older name loads
        # the same tokenizer.json in both 4.x and 5.x.
        config_path = Path(tmp) / "tokenizer_config.json"
        tok_config = json.loads(config_path.read_text(encoding="utf-8"))
        tok_config["tokenizer_class"] = "PreTrainedTokenizerFast"
        config_path.write_text(json.dumps(tok_config, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(tmp, out)
    out.chmod(0o755)
    for path in out.iterdir():
        path.chmod(0o644)  # safetensors writes 0600; the committed files are world-readable
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out} ({size / 1024:.0f} KB): {', '.join(sorted(p.name for p in out.iterdir()))}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ASSETS / "tiny-gpt2")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps")
    args = parser.parse_args()
    build(args.out.resolve(), args.seed, args.steps)


if __name__ == "__main__":
    main()
