"""Regenerate ftui's built-in offline base model, `ftui:tiny-gpt2`.

A GPT-2-style causal LM small enough to commit (2 layers, 64 dims, 2 heads, vocabulary of
1000) with a ByteLevel BPE tokenizer trained locally on the demo data, saved as
safetensors. Its weights are randomly initialised with a fixed seed: it exists so that
`ftui train` works on a fresh machine with no network, not to write good text.

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


def build(out: Path, seed: int = 0) -> None:
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
    args = parser.parse_args()
    build(args.out.resolve(), args.seed)


if __name__ == "__main__":
    main()
