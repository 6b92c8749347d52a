"""`ftui path NAME|VERSION[:checkpoint-N]`: print the folder, for scripts.

PeftModel.from_pretrained(base, "$(ftui path prod)")
"""

from __future__ import annotations

import argparse
import os

from .common import add_root, load, resolve, root_of, run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ftui path",
        description="Print the absolute folder of a version, checkpoint or alias.",
    )
    p.add_argument("name", help="alias, VERSION (with or without v_) or VERSION:checkpoint-N")
    add_root(p)
    return p


def run_path(args: argparse.Namespace) -> int:
    versions, aliases = load(root_of(args))
    resolved = resolve(versions, aliases, args.name)
    folder = resolved.checkpoint.path if resolved.checkpoint else resolved.version.path
    # printed as is (a file name may hold any byte but NUL): scripts need the real path
    print(os.path.abspath(folder))
    return 0


def main(argv: list[str]) -> int:
    return run(run_path, parser().parse_args(argv[1:]))
