"""The `ftui` command: parse arguments, pick the root, launch. No logic lives here.

ftui [DIR]                      browse the versions in DIR (default ./model_versions)
ftui --check [DIR] [--json]     check DIR with no terminal; exit 0 healthy, 1 damaged, 2 unusable
ftui train [...]                start a training run (see `ftui train --help`)
ftui retrain VERSION [...]      retrain a version with the same or changed settings
ftui cancel VERSION             stop a run after its current step, from any shell
ftui resume VERSION             continue an interrupted or cancelled run from its last checkpoint
ftui du|prune|alias|path|export  disk use, cleanup, aliases, folders, export (see --help)
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

DEFAULT_ROOT = "model_versions"


def _browse_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftui",
        description="Browse, train and compare LoRA fine-tuning versions.",
        epilog="Subcommands: train, retrain, cancel, resume, inspect, compare "
        "(`ftui SUBCOMMAND --help`).",
    )
    parser.add_argument("root", nargs="?", default=DEFAULT_ROOT, metavar="DIR",
                        help="folder of versions (default: ./model_versions)")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="check every version without a terminal and exit")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="with --check: a JSON report")
    parser.add_argument("--strict", action="store_true",
                        help="with --check: failed or cancelled versions and warnings "
                             "(e.g. a missing parent) also exit 1")  # fmt: skip
    parser.add_argument("--no-ui", action="store_true",
                        help="with --check: skip the headless pass of the app itself")  # fmt: skip
    parser.add_argument("--in-process", action="store_true",
                        help="train inside the app (t/r/R) instead of as detached processes "
                             "that outlive it")  # fmt: skip
    parser.add_argument("--version", action="version", version=_version())
    return parser


def _version() -> str:
    from ftui import __version__

    return f"ftui {__version__}"


# Each subcommand lives in its own module: `module:function`, called with the whole argv
# (the subcommand's name first) and returning the exit code. Imported only when used.
SUBCOMMANDS: dict[str, str] = {
    "train": "ftui.train.commands:main",
    "retrain": "ftui.train.commands:main",
    "inspect": "ftui.analytics_cli:main",
    "compare": "ftui.analytics_cli:main",
    "cancel": "ftui.runs.cancel_cli:main",
    "resume": "ftui.runs.resume:main",
    "du": "ftui.commands.du:main",
    "alias": "ftui.commands.alias:main",
    "path": "ftui.commands.path:main",
    "prune": "ftui.commands.prune:main",
    "export": "ftui.commands.export:main",
}


def _subcommand_main(argv: list[str]) -> int:
    import importlib

    module_name, _, function = SUBCOMMANDS[argv[0]].partition(":")
    run = getattr(importlib.import_module(module_name), function)
    return int(run(argv))


def _check_main(root: Path, as_json: bool, with_app: bool, strict: bool = False) -> int:
    from dataclasses import replace

    from ftui.store.check import check_root, dumps_report, format_report

    report = check_root(root, strict=strict, shapes=with_app)
    if with_app and report.error is None:
        from ftui.app.headless import run_headless_check

        report = replace(report, extra_problems=tuple(run_headless_check(root, report)))
    print(dumps_report(report) if as_json else "\n".join(format_report(report)))
    return report.exit_code


def _survive_any_encoding() -> None:
    """Whatever stdout's encoding (`PYTHONIOENCODING=ascii:strict`, a C locale), print
    what it cannot encode as escapes rather than die with UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    _survive_any_encoding()
    if argv and argv[0] in SUBCOMMANDS:
        return _subcommand_main(argv)
    parser = _browse_parser()
    args = parser.parse_args(argv)
    root = Path(args.root)
    if not args.check:
        given = [flag for flag in ("json", "strict", "no_ui") if getattr(args, flag)]
        if given:  # silently opening the app would surprise a script waiting for output
            flag = "--" + given[0].replace("_", "-")
            parser.error(f"{flag} only goes with --check (ftui --check {flag} DIR)")
    if args.check:
        return _check_main(root, args.json, with_app=not args.no_ui, strict=args.strict)
    # Starting the app allocates some 200,000 long-lived objects; collecting garbage
    # while they are being made only delays the first frame. The app turns collection
    # back on (with the start-up objects frozen) once that frame is out.
    gc.disable()
    from ftui.app.main import run_app

    return run_app(root, in_process=args.in_process)


if __name__ == "__main__":
    sys.exit(main())
