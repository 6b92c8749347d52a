"""`ftui --check`: scan a root, run the deeper per-version checks, report.

The scan already finds unreadable metadata, missing or invalid adapters and rank
disagreements; here we add what needs more reading: the loss history (NaN/inf) and
whether a local base model path exists.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .history import check_history
from .ids import is_valid_id
from .lineage import analyse
from .model import Problem, Status, Version
from .scanner import RootError, scan
from .text import one_line

EXIT_OK, EXIT_DAMAGED, EXIT_UNUSABLE = 0, 1, 2


# Statuses that are not damage (the files are what a stopped run leaves) but that a
# strict check (`--strict`) counts as failures, along with warnings.
UNFINISHED = frozenset({Status.FAILED, Status.CANCELLED})
MAX_NON_FINITE_LISTED = 3


@dataclass(frozen=True)
class CheckedVersion:
    version: Version
    problems: tuple[Problem, ...]
    final_loss: float | None
    warnings: tuple[Problem, ...] = ()  # worth knowing, not damage (e.g. a deleted parent)
    history_shape: tuple[int, ...] = ()  # how its loss plot is drawn (`history_shape`)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def passes(self, strict: bool = False) -> bool:
        """Healthy; with `strict`, also no warnings and not failed or cancelled."""
        if not strict:
            return self.healthy
        return self.healthy and not self.warnings and self.version.status not in UNFINISHED

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
    strict: bool = False  # failed/cancelled versions and warnings count as failures
    root_problems: tuple[str, ...] = ()  # e.g. an unreadable aliases.json
    root_warnings: tuple[str, ...] = ()  # e.g. an alias naming a deleted version

    @property
    def exit_code(self) -> int:
        if self.error is not None:
            return EXIT_UNUSABLE
        if self.extra_problems or any(not v.passes(self.strict) for v in self.versions):
            return EXIT_DAMAGED
        if self.root_problems or (self.strict and self.root_warnings):
            return EXIT_DAMAGED
        return EXIT_OK


def is_local_path(reference: str) -> bool:
    """A base model reference that names a path rather than a hub id or `ftui:` name."""
    return reference.startswith(("/", "./", "../", "~")) or reference in (".", "..")


def base_model_candidates(version: Version, reference: str) -> list[Path]:
    """Where a local base model reference may be, in order. A relative path is resolved
    the way the tutorial's script saw it: from the folder that holds the root
    (`./tiny-gpt2` beside `./model_versions`), then from the root itself."""
    path = Path(os.path.expanduser(reference))
    if path.is_absolute():
        return [path]
    root = version.metadata_path.parent if version.metadata_path else version.path.parent
    return [root.parent / path, root / path]


def base_model_problem(version: Version) -> Problem | None:
    reference = version.base_model
    if not reference or not is_local_path(reference):
        return None
    candidates = base_model_candidates(version, reference)
    if not any(path.exists() for path in candidates):
        label = version.metadata_path.name if version.metadata_path else version.id
        where = ""
        if len(candidates) > 1:
            root = candidates[1].parent
            where = f" (looked beside {one_line(root.name, 60)}/ and inside it)"
        return Problem(label, f"base model path {one_line(reference, 120)} does not exist{where}")
    return None


def non_finite_problems(version: Version) -> list[Problem]:
    """Infinity or NaN anywhere in the metadata or adapter_config.json (losses aside:
    those are reported from the loss history). JSON allows neither."""
    problems = []
    meta_name = version.metadata_path.name if version.metadata_path else "metadata"
    sources = [
        (meta_name, version.metadata),
        (f"{version.path.name}/adapter_config.json", version.adapter_config),
    ]
    for label, mapping in sources:
        found = non_finite_paths(mapping, skip=("log_history", "loss_history"))
        if found:
            more = f" (+{len(found) - MAX_NON_FINITE_LISTED} more)" if len(found) > 3 else ""
            shown = ", ".join(found[:MAX_NON_FINITE_LISTED])
            problems.append(Problem(label, f"non-finite number: {shown}{more}"))
    return problems


def non_finite_paths(value: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """`key.sub=inf` for each non-finite float in a JSON value (iterative, depth-bounded
    by the reader)."""
    try:  # the common case, at C speed: nothing to find
        json.dumps(dict(value) if isinstance(value, Mapping) else value, allow_nan=False)
        return []
    except (ValueError, TypeError):
        pass
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            found.append(f"{one_line(path, 80) or 'value'}={item}")
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if path or key not in skip:
                    stack.append((f"{path}.{key}" if path else str(key), child))
        elif isinstance(item, list):
            stack += [(f"{path}[{i}]", v) for i, v in enumerate(item)]
    return sorted(found)


def check_version(version: Version, shapes: bool = True) -> CheckedVersion:
    """Every problem of one version: the scan's plus history and base model checks
    (`shapes`: and how its loss plot is drawn, which only the app pass needs)."""
    problems = list(version.problems)
    if not is_valid_id(version.id):  # nothing to read: its "folder" is not its own
        return CheckedVersion(version, tuple(problems), None)
    problems += non_finite_problems(version)
    history, history_problems = check_history(version, shapes)
    problems += history_problems
    bad = history.non_finite
    if bad:
        source = Path(history.source).name if history.source else "loss history"
        more = f" (+{len(bad) - 1} more)" if len(bad) > 1 else ""
        problems.append(Problem(source, f"non-finite loss: {bad[0]}{more}"))
    base = base_model_problem(version)
    if base is not None:
        problems.append(base)
    final = version.final_loss
    if final is None:
        final = (
            history.final_eval_loss
            if history.final_eval_loss is not None
            else history.final_train_loss
        )
    return CheckedVersion(
        version, tuple(dict.fromkeys(problems)), final, history_shape=history.shape
    )


def check_root(root: Path, strict: bool = False, shapes: bool = True) -> CheckReport:
    """Every version under `root` checked (see `check_version`), with the root's own
    problems (aliases) and lineage findings."""
    try:
        versions = scan(root)
    except RootError as exc:
        return CheckReport(root, error=str(exc), strict=strict)
    checked = [check_version(v, shapes) for v in versions]
    from .aliases import check_aliases

    problems, warnings = check_aliases(root, versions)
    return CheckReport(
        root,
        tuple(with_lineage(checked)),
        strict=strict,
        root_problems=tuple(problems),
        root_warnings=tuple(warnings),
    )


def with_lineage(checked: list[CheckedVersion]) -> list[CheckedVersion]:
    """Add lineage findings: a loop (or a self-parent) is a problem of each version on
    it; a parent that is not in the folder (deleted, or elsewhere) is a warning."""
    found = analyse(item.version for item in checked)
    result = []
    for item in checked:
        version = item.version
        label = version.metadata_path.name if version.metadata_path else version.id
        problems, warnings = list(item.problems), list(item.warnings)
        loop = found.cycles.get(version.id)
        if loop is not None:
            if len(loop) == 1:
                problems.append(Problem(label, "lineage: the version names itself as parent"))
            else:
                chain = " → ".join(one_line(v, 40) for v in (*loop[:6], loop[0]))
                more = " …" if len(loop) > 6 else ""
                problems.append(Problem(label, f"lineage loop: {chain}{more}"))
        missing = found.missing.get(version.id)
        if missing is not None:
            warnings.append(Problem(label, f"parent {one_line(missing, 60)} is not in this folder"))
        result.append(replace(item, problems=tuple(problems), warnings=tuple(warnings)))
    return result


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def format_line(item: CheckedVersion) -> str:
    v = item.version
    line = (
        f"{one_line(v.id, 40):<22} {item.status.value:<11} "
        f"{one_line(v.base_model or '?', 30):<16} {one_line(v.weights_label, 20):<9} "
        f"loss {_loss(item.final_loss)}"
    )
    if item.problems:
        line += "  " + "; ".join(one_line(str(p), 200) for p in item.problems[:20])
        if len(item.problems) > 20:
            line += f"; … {len(item.problems)} problems in all"
    if item.warnings:
        line += "  warning: " + "; ".join(one_line(str(p), 200) for p in item.warnings)
    return line


def format_report(report: CheckReport) -> list[str]:
    if report.error is not None:
        return [f"ftui: {one_line(report.error, 300)}"]
    lines = [format_line(item) for item in report.versions]
    lines += [f"app: {one_line(p, 300)}" for p in report.extra_problems]
    lines += [f"root: {one_line(p, 300)}" for p in report.root_problems]
    lines += [f"root: warning: {one_line(p, 300)}" for p in report.root_warnings]
    damaged = sum(1 for v in report.versions if not v.healthy)
    n = len(report.versions)
    summary = f"{n} version{'s' if n != 1 else ''}, {n - damaged} healthy, {damaged} damaged"
    for status in sorted(UNFINISHED):
        count = sum(1 for v in report.versions if v.healthy and v.version.status is status)
        if count:
            summary += f", {count} {status.value}"
    warned = sum(1 for v in report.versions if v.warnings)
    if warned:
        summary += f", {warned} with warnings"
    if report.strict and report.exit_code == EXIT_DAMAGED and not damaged:
        summary += " (--strict: failing)"
    if not report.versions:
        summary = f"no versions in {one_line(str(report.root), 200)}: nothing to check"
    if report.extra_problems:
        summary += f", {len(report.extra_problems)} app problem(s)"
    lines.append(summary)
    return lines


def report_json(report: CheckReport) -> dict[str, Any]:
    return {
        "root": str(report.root),
        "exit_code": report.exit_code,
        "strict": report.strict,
        "error": report.error,
        "app_problems": list(report.extra_problems),
        "root_problems": list(report.root_problems),
        "root_warnings": list(report.root_warnings),
        "versions": [
            {
                "id": item.version.id,
                "status": item.status.value,
                "layout": item.version.layout.value,
                "kind": item.version.kind,
                "folder": item.version.path.name,
                "metadata": item.version.metadata_path.name if item.version.metadata_path else None,
                "base_model": item.version.base_model,
                "r": item.version.lora.r,
                "lora_alpha": _finite(item.version.lora.alpha),
                "final_loss": _finite(item.final_loss),
                "parent": item.version.parent.version_id if item.version.parent else None,
                "checkpoints": [c.name for c in item.version.checkpoints],
                "healthy": item.healthy,
                "problems": [{"file": p.file, "reason": p.reason} for p in item.problems],
                "warnings": [{"file": p.file, "reason": p.reason} for p in item.warnings],
            }
            for item in report.versions
        ],
    }


def dumps_report(report: CheckReport) -> str:
    """The JSON report: always valid JSON (non-finite numbers are null, with a problem
    saying so; undecodable bytes of file names are `\\udcXX` escapes)."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=True, allow_nan=False)


def _finite(value: float | None) -> float | None:
    """JSON has no NaN or Infinity: non-finite numbers become null (the report's
    problems name them)."""
    return value if value is None or math.isfinite(value) else None
