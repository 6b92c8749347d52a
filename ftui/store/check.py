"""`ftui --check`: scan a root, run the deeper per-version checks, report.

The scan already finds unreadable metadata, missing or invalid adapters and rank
disagreements; here we add what needs more reading: the loss history (NaN/inf) and
whether a local base model path exists.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .history import load_history
from .model import Problem, Status, Version
from .scanner import RootError, scan
from .text import one_line

EXIT_OK, EXIT_DAMAGED, EXIT_UNUSABLE = 0, 1, 2


@dataclass(frozen=True)
class CheckedVersion:
    version: Version
    problems: tuple[Problem, ...]
    final_loss: float | None

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def status(self) -> Status:
        if self.problems and self.version.status in (Status.COMPLETED, Status.RUNNING):
            return Status.DAMAGED
        return self.version.status


@dataclass(frozen=True)
class CheckReport:
    root: Path
    versions: tuple[CheckedVersion, ...] = ()
    error: str | None = None  # the root itself is unusable
    extra_problems: tuple[str, ...] = field(default=())  # e.g. from the headless app pass

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_UNUSABLE
        if self.extra_problems or any(not v.healthy for v in self.versions):
            return EXIT_DAMAGED
        return EXIT_OK


def is_local_path(reference: str) -> bool:
    """A base model reference that names a path rather than a hub id or `ftui:` name."""
    return reference.startswith(("/", "./", "../", "~")) or reference in (".", "..")


def base_model_problem(version: Version) -> Problem | None:
    reference = version.base_model
    if not reference or not is_local_path(reference):
        return None
    path = Path(os.path.expanduser(reference))
    if not path.is_absolute():
        path = version.path.parent / path
    if not path.exists():
        label = version.metadata_path.name if version.metadata_path else version.id
        return Problem(label, f"base model path {one_line(reference, 120)} does not exist")
    return None


def check_version(version: Version) -> CheckedVersion:
    """Every problem of one version: the scan's plus history and base model checks."""
    problems = list(version.problems)
    history, history_problems = load_history(version)
    problems += history_problems
    bad = history.non_finite()
    if bad:
        source = Path(history.source).name if history.source else "loss history"
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        problems.append(Problem(source, f"non-finite loss: {bad[0]}{more}"))
    base = base_model_problem(version)
    if base is not None:
        problems.append(base)
    final = version.final_loss
    if final is None:
        metrics = history.metrics()
        final = (
            metrics.final_eval_loss
            if metrics.final_eval_loss is not None
            else metrics.final_train_loss
        )
    return CheckedVersion(version, tuple(dict.fromkeys(problems)), final)


def check_root(root: Path) -> CheckReport:
    try:
        versions = scan(root)
    except RootError as exc:
        return CheckReport(root, error=str(exc))
    return CheckReport(root, tuple(check_version(v) for v in versions))


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_line(item: CheckedVersion) -> str:
    v = item.version
    line = (
        f"{one_line(v.id, 40):<22} {item.status.value:<11} "
        f"{one_line(v.base_model or '?', 30):<16} {v.lora.short():<9} loss {_loss(item.final_loss)}"
    )
    if item.problems:
        line += "  " + "; ".join(one_line(str(p), 200) for p in item.problems)
    return line


def format_report(report: CheckReport) -> list[str]:
    if report.error is not None:
        return [f"ftui: {one_line(report.error, 300)}"]
    lines = [format_line(item) for item in report.versions]
    lines += [f"app: {one_line(p, 300)}" for p in report.extra_problems]
    damaged = sum(1 for v in report.versions if not v.healthy)
    n = len(report.versions)
    summary = f"{n} version{'s' if n != 1 else ''}, {n - damaged} healthy, {damaged} damaged"
    if not report.versions:
        summary += f" (no versions found in {one_line(str(report.root), 200)})"
    if report.extra_problems:
        summary += f", {len(report.extra_problems)} app problem(s)"
    lines.append(summary)
    return lines


def report_json(report: CheckReport) -> dict[str, Any]:
    return {
        "root": str(report.root),
        "exit_code": report.exit_code,
        "error": report.error,
        "app_problems": list(report.extra_problems),
        "versions": [
            {
                "id": item.version.id,
                "status": item.status.value,
                "layout": item.version.layout.value,
                "base_model": item.version.base_model,
                "r": item.version.lora.r,
                "lora_alpha": item.version.lora.alpha,
                "final_loss": _finite(item.final_loss),
                "parent": item.version.parent.version_id if item.version.parent else None,
                "checkpoints": [c.name for c in item.version.checkpoints],
                "healthy": item.healthy,
                "problems": [{"file": p.file, "reason": p.reason} for p in item.problems],
            }
            for item in report.versions
        ],
    }


def dumps_report(report: CheckReport) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=True, allow_nan=False)


def _finite(value: float | None) -> float | str | None:
    """JSON has no NaN: non-finite losses are reported as strings ("nan", "inf")."""
    return value if value is None or math.isfinite(value) else str(value)
