"""`ftui inspect VERSION` and `ftui compare A B`: the LoRA analytics on the command line.

VERSION is a version id with or without `v_`, or `VERSION:checkpoint-N` (`VERSION:N`)
for one of its checkpoints. `--json` prints the same figures, machine-readable.
Exit status: 0 done, 1 an adapter could not be read, 2 the root or a name is unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ftui.commands.common import finite

DEFAULT_ROOT = "model_versions"


def _parser(command: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"ftui {command}")
    if command == "inspect":
        parser.description = (
            "Per-module spectra of a version's LoRA update: ‖ΔW‖, spectral norm, effective "
            "rank, directions holding 90%/99% of the energy, and a heatmap."
        )
        parser.add_argument("version", help="id (with or without v_), or VERSION:checkpoint-N")
        parser.add_argument(
            "--metric",
            default="norm",
            choices=["norm", "spectral", "erank", "k90", "k99"],
            help="what the layer × module heatmap shows (default: norm)",
        )
    else:
        parser.description = (
            "How two versions' (or checkpoints') LoRA updates agree: cosine, subspace "
            "similarity φ(i, j) and principal angles, per module."
        )
        parser.add_argument("a", help="version A (id, or VERSION:checkpoint-N)")
        parser.add_argument("b", help="version B")
    parser.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                        help="folder of versions (default: ./model_versions)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parser


class NameError_(Exception):  # noqa: N801 - not the builtin
    """A name that names no version (or checkpoint) in the root."""


def resolve(root: Path, name: str) -> Any:
    """The `Side` a user's name means: `ID`, `v_ID`, `ID:checkpoint-N` or `ID:N`."""
    from ftui.store import RootError, scan, side_for
    from ftui.store.aliases import load_aliases
    from ftui.store.naming import UnknownVersion, resolve_version

    try:
        resolved = resolve_version(scan(root), name, aliases=load_aliases(root))
    except RootError as exc:
        raise NameError_(str(exc)) from None
    except UnknownVersion as exc:
        raise NameError_(f"{root}: {exc}") from None
    return side_for(resolved.version, resolved.checkpoint)


def _print_json(value: Any) -> None:
    print(json.dumps(finite(value), indent=2))


def run_inspect(args: argparse.Namespace) -> int:
    from ftui import analytics, analytics_text
    from ftui.store.lora_grouping import heatmap

    side = resolve(Path(args.root), args.version)
    spectra = analytics.inspect_side(side)
    heat = heatmap(spectra.modules, args.metric)
    trajectory = analytics.checkpoint_trajectory(side.version) if side.checkpoint is None else None
    if args.json:
        _print_json({
            "version": side.label, "summary": spectra.summary(),
            "modules": [m.as_json() for m in spectra.modules], "heatmap": heat.as_json(),
            "checkpoints": [p.as_json() for p in trajectory.points] if trajectory else [],
        })  # fmt: skip
        return 0
    lines = [f"{analytics_text.one_line(side.label, 80)}"]
    lines += analytics_text.summary_lines(spectra) + [""]
    lines += analytics_text.module_lines(spectra.modules) + [""]
    lines += analytics_text.heatmap_lines(heat)
    if trajectory is not None:
        lines += ["", *analytics_text.trajectory_lines(trajectory.points)]
        lines += [f"⚠ {analytics_text.one_line(s, 100)}" for s in trajectory.skipped]
    print("\n".join(lines))
    return 0


def run_compare(args: argparse.Namespace) -> int:
    from ftui import analytics, analytics_text
    from ftui.store.lora_grouping import by_type
    from ftui.store.lora_similarity import overall_cosine

    root = Path(args.root)
    a, b = resolve(root, args.a), resolve(root, args.b)
    modules = list(analytics.iter_side_comparison(a, b))
    types = by_type(modules)
    cosine = overall_cosine(modules)
    if args.json:
        _print_json({
            "a": a.label, "b": b.label, "overall_cosine": cosine,
            "types": [t.as_json() for t in types], "modules": [m.as_json() for m in modules],
        })  # fmt: skip
        return 0
    one_line = analytics_text.one_line
    lines = [
        f"A {one_line(a.label, 60)}  vs  B {one_line(b.label, 60)}",
        f"overall cosine {analytics_text.num(cosine, 3)} over {len(modules)} modules",
        "",
    ]
    lines += analytics_text.comparison_lines(modules) + [""]
    lines += analytics_text.type_lines(types)
    print("\n".join(lines))
    return 0


def main(argv: list[str]) -> int:
    """`argv[0]` is `inspect` or `compare`."""
    from ftui.store import ReadError

    args = _parser(argv[0]).parse_args(argv[1:])
    try:
        return run_inspect(args) if argv[0] == "inspect" else run_compare(args)
    except NameError_ as exc:
        print(f"ftui {argv[0]}: {exc}", file=sys.stderr)
        return 2
    except ReadError as exc:
        print(f"ftui {argv[0]}: {exc}", file=sys.stderr)
        return 1
