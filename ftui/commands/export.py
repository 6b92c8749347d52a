"""`ftui export VERSION OUT [--merge]`: a self-contained folder to hand to someone else.

Without `--merge`: the adapter, its config, the tokenizer and a model card (README.md);
`AutoModelForCausalLM.from_pretrained(OUT)` loads it (with peft installed). With
`--merge`: the base model with the adapter merged in, a full safetensors model.
OUT must be new or empty. Exit codes: 0 written, 1 failed (nothing left), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import EXIT_FAILED, CommandError, add_root, load, resolve, root_of, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftui export",
        description="Export a version or checkpoint: adapter + config + tokenizer + model "
        "card, or with --merge a full model with the adapter merged in.",
    )
    p.add_argument("version", help="alias, VERSION (with or without v_) or VERSION:checkpoint-N")
    p.add_argument("out", help="a new or empty folder to write")
    p.add_argument("--merge", action="store_true",
                   help="merge the adapter into the base model: a full model")  # fmt: skip
    add_root(p)
    return p


def run_export(args: argparse.Namespace) -> int:
    from ftui.train.export import ExportError, check_destination

    out = Path(args.out)
    try:
        check_destination(out)
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    versions, aliases = load(root_of(args))
    resolved = resolve(versions, aliases, args.version)
    from ftui.train.export import ExportFailed, export_version

    try:
        export_version(resolved.version, out, resolved.checkpoint, merge=args.merge,
                       log=lambda text: print(text, file=sys.stderr))  # fmt: skip
    except ExportFailed as exc:
        raise CommandError(str(exc), EXIT_FAILED) from None
    except ExportError as exc:
        raise CommandError(str(exc)) from None
    what = "merged model" if args.merge else "adapter"
    print(f"exported {resolved.label} ({what}) to {out}", file=sys.stderr)
    print(out.absolute())
    return 0


def main(argv: list[str]) -> int:
    return run(run_export, parser().parse_args(argv[1:]))
