"""Pruning: which checkpoints and optimizer state can go, and removing them safely.

`plan_prune` only reads (it walks folders for sizes: call it from a worker); the plan
says what goes, what stays and why, and how many bytes are freed. `execute` acts on a
plan. Rules that always hold, whatever the options:

- a version's final adapter is never deleted (with none, its last checkpoint stands in);
- the best checkpoint by eval loss (train loss where there is no eval) is never deleted;
- running or queued, aliased (unless named through the alias) and pinned versions, and
  checkpoints an alias points at, are not touched;
- nothing outside the root: a version folder that is a link is refused, never followed.

Each step leaves every version readable: a checkpoint is first renamed to a hidden name
inside its version (atomic), recorded in the metadata, then removed; state files are
unlinked one by one. An interrupted prune leaves at most a hidden `.ftui-pruning-*`
folder, which the next prune removes.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .disk import (
    TRASH_PREFIX,
    Refused,
    purge_trash,
    remove_checkpoint_files,
    trash_checkpoint,
)
from .jsonio import ReadError, read_json_object
from .model import Checkpoint, Status, Version
from .sizes import is_state_file, tree_bytes
from .writer import WriteError, update_metadata

PIN_TAGS = frozenset({"pin", "pinned", "keep"})


@dataclass(frozen=True, slots=True)
class PruneOptions:
    keep_best: int | None = None  # keep the N best checkpoints (and delete the others)
    keep_last: int | None = None  # keep the N latest checkpoints (default 1 when pruning)
    drop_state: bool = False  # remove optimizer/scheduler/RNG state from kept checkpoints
    all_state: bool = False  # ...including the last checkpoint's (resume then impossible)

    @property
    def prunes_checkpoints(self) -> bool:
        return self.keep_best is not None or self.keep_last is not None

    @property
    def does_something(self) -> bool:
        return self.prunes_checkpoints or self.drop_state


@dataclass(frozen=True, slots=True)
class Removal:
    """One thing a prune removes: a whole checkpoint, or the state files of one."""

    version_id: str
    checkpoint: str
    kind: str  # "checkpoint" or "state"
    names: tuple[str, ...]  # for "state": the files inside the checkpoint
    bytes: int
    reason: str

    @property
    def label(self) -> str:
        if self.kind == "checkpoint":
            return f"{self.checkpoint}/"
        return f"{self.checkpoint}/{{{','.join(self.names)}}}"


@dataclass(slots=True)
class VersionPlan:
    """What happens to one version: removals, what is kept and why, or why it is skipped."""

    version: Version
    removals: list[Removal] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)  # checkpoint -> why it stays
    skipped: str | None = None  # why the version is not touched at all
    leftovers: int = 0  # bytes of an interrupted prune's hidden folders, removed too

    @property
    def freed(self) -> int:
        return self.leftovers + sum(r.bytes for r in self.removals)


@dataclass(slots=True)
class PrunePlan:
    options: PruneOptions
    versions: list[VersionPlan]

    @property
    def freed(self) -> int:
        return sum(p.freed for p in self.versions)

    @property
    def removals(self) -> list[Removal]:
        return [r for p in self.versions for r in p.removals]

    def as_json(self) -> dict[str, Any]:
        return {
            "freed": self.freed,
            "versions": [
                {
                    "id": p.version.id,
                    "skipped": p.skipped,
                    "freed": p.freed,
                    "leftovers": p.leftovers,
                    "remove": [
                        {
                            "checkpoint": r.checkpoint,
                            "kind": r.kind,
                            "files": list(r.names),
                            "bytes": r.bytes,
                            "reason": r.reason,
                        }
                        for r in p.removals
                    ],  # fmt: skip
                    "keep": dict(p.kept),
                }
                for p in self.versions
            ],
        }


def is_pinned(version: Version) -> bool:
    """Pinned: tagged `pin`, `pinned` or `keep`, or `"pinned": true` in the metadata."""
    return bool(PIN_TAGS & {t.lower() for t in version.tags}) or (
        version.metadata.get("pinned") is True
    )


def why_untouchable(version: Version, named_by_alias: bool = False) -> str | None:
    """Why a version may not be pruned or deleted at all, or None."""
    if version.status.live:
        return f"{version.status.value}: never touched while it trains"
    whole = sorted(name for name, target in version.aliases.items() if target is None)
    if whole and not named_by_alias:
        names = ", ".join(whole)
        return f"aliased ({names}): name the alias to prune it"
    if is_pinned(version):
        return "pinned"
    if os.path.islink(version.path):
        target = os.readlink(version.path)
        return f"its folder is a symbolic link to {target}: refused, links are never followed"
    if version.metadata_path is not None and not version.metadata:
        return "its metadata cannot be read, so deletions could not be recorded"
    return None


def _loss(checkpoint: Checkpoint, use_eval: bool) -> float | None:
    value = checkpoint.eval_loss if use_eval else checkpoint.train_loss
    return value if value is not None and math.isfinite(value) else None


def ranked_by_loss(checkpoints: Iterable[Checkpoint]) -> list[Checkpoint]:
    """Checkpoints with a loss, best first: by eval loss where any has one, else train."""
    items = list(checkpoints)
    use_eval = any(_loss(c, True) is not None for c in items)
    known = [c for c in items if _loss(c, use_eval) is not None]
    return sorted(known, key=lambda c: (_loss(c, use_eval), c.step))


def _has_final_adapter(version: Version) -> bool:
    return any(
        (version.path / name).is_file()
        for name in ("adapter_model.safetensors", "adapter_model.bin")
    )


def _state_names(checkpoint: Checkpoint) -> list[str]:
    try:
        return sorted(n for n in os.listdir(checkpoint.path) if is_state_file(n))
    except OSError:
        return []


def plan_version(
    version: Version, options: PruneOptions, named_by_alias: bool = False
) -> VersionPlan:
    """The plan for one version (reads its folder for sizes)."""
    plan = VersionPlan(version)
    plan.skipped = why_untouchable(version, named_by_alias)
    if plan.skipped is not None:
        return plan
    try:
        plan.leftovers = sum(
            tree_bytes(version.path / n)
            for n in os.listdir(version.path)
            if n.startswith(TRASH_PREFIX)
        )
    except OSError:
        plan.leftovers = 0
    checkpoints = sorted(version.checkpoints, key=lambda c: c.step)
    if not checkpoints:
        return plan
    kept: dict[str, str] = {}

    def keep(checkpoint: Checkpoint, why: str) -> None:
        reasons = kept.get(checkpoint.name)
        kept[checkpoint.name] = why if reasons is None else f"{reasons}; {why}"

    last = checkpoints[-1]
    ranked = ranked_by_loss(checkpoints)
    if ranked:
        keep(ranked[0], "best by loss")
    for name, target in version.aliases.items():
        if target is not None and version.checkpoint(target) is not None:
            keep(version.checkpoint(target), f"alias {name}")  # type: ignore[arg-type]
    if not _has_final_adapter(version):
        keep(last, "no final adapter: the last checkpoint stands in for it")
    removing: set[str] = set()
    if options.prunes_checkpoints:
        checkpoints_to_drop: list[Checkpoint] = []
        if not ranked and options.keep_best is not None:
            for checkpoint in checkpoints:
                keep(checkpoint, "no losses recorded: the best is unknown, nothing deleted")
        else:
            keep_last = 1 if options.keep_last is None else options.keep_last
            for checkpoint in checkpoints[len(checkpoints) - keep_last :] if keep_last else []:
                keep(checkpoint, "latest" if keep_last == 1 else f"among the last {keep_last}")
            for checkpoint in ranked[: options.keep_best or 0]:
                keep(checkpoint, f"among the best {options.keep_best}")
            checkpoints_to_drop = [c for c in checkpoints if c.name not in kept]
        for checkpoint in checkpoints_to_drop:
            size = tree_bytes(checkpoint.path)
            reason = _drop_reason(options)
            plan.removals.append(
                Removal(version.id, checkpoint.name, "checkpoint", (), size, reason)
            )
            removing.add(checkpoint.name)
    else:
        for checkpoint in checkpoints:
            keep(checkpoint, "kept (no --keep-best/--keep-last)")
    if options.drop_state:
        for checkpoint in checkpoints:
            if checkpoint.name in removing:
                continue
            if checkpoint is last and not options.all_state:
                keep(checkpoint, "its state stays for resume")
                continue
            names = _state_names(checkpoint)
            if names:
                size = sum(tree_bytes(checkpoint.path / n) for n in names)
                plan.removals.append(
                    Removal(
                        version.id,
                        checkpoint.name,
                        "state",
                        tuple(names),
                        size,
                        "optimizer/scheduler/RNG state",
                    )  # fmt: skip
                )
    plan.kept = {c.name: kept[c.name] for c in checkpoints if c.name in kept}
    return plan


def _drop_reason(options: PruneOptions) -> str:
    parts = []
    if options.keep_best is not None:
        parts.append(f"best {options.keep_best}")
    keep_last = 1 if options.keep_last is None else options.keep_last
    parts.append(f"last {keep_last}")
    return "not among the " + " or ".join(parts)


def plan_prune(
    versions: Iterable[Version],
    options: PruneOptions,
    named_by_alias: Iterable[str] = (),
    stop: threading.Event | None = None,
) -> PrunePlan:
    """The plan for every version given (`named_by_alias`: ids the user named through
    one of their aliases, which may then be pruned)."""
    named = set(named_by_alias)
    plans = []
    for version in versions:
        if stop is not None and stop.is_set():
            break
        plans.append(plan_version(version, options, version.id in named))
    return PrunePlan(options, plans)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _record(version: Version, entry: dict[str, Any]) -> None:
    """Append one deletion to the version's metadata (`pruned`); a Trainer folder has none."""
    if version.metadata_path is None:
        return

    def change(record: dict[str, Any]) -> None:
        log = record.get("pruned")
        if not isinstance(log, list):
            log = []
        log.append(entry)
        record["pruned"] = log

    update_metadata(version.metadata_path, change)


def _still_idle(version: Version) -> str | None:
    """Read the status again just before acting: a run may have started meanwhile."""
    if version.metadata_path is None:
        return None
    try:
        status = read_json_object(version.metadata_path).get("status")
    except ReadError as exc:
        return f"metadata {exc}"
    busy = Status.parse(status)
    if busy is not None and busy.live:
        return f"{busy}: never touched while it trains"
    return None


@dataclass(slots=True)
class PruneResult:
    freed: int = 0
    done: list[Removal] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line each


def execute(
    plan: PrunePlan,
    root: Path | None = None,
    stop: threading.Event | None = None,
    on_step: Callable[[str], None] | None = None,
) -> PruneResult:
    """Carry out `plan`. Errors (a refusal, a run that started) skip that version and
    are collected, one line each; the rest goes on."""
    result = PruneResult()
    for version_plan in plan.versions:
        version = version_plan.version
        if version_plan.skipped is not None or not version_plan.freed:
            continue
        if stop is not None and stop.is_set():
            break
        busy = _still_idle(version)
        if busy is not None:
            result.errors.append(f"{version.id}: {busy}; not pruned")
            continue
        try:
            result.freed += _execute_version(version_plan, root, result, stop, on_step)
        except (Refused, WriteError) as exc:
            result.errors.append(f"{version.id}: {exc}")
        except OSError as exc:
            result.errors.append(f"{version.id}: {exc.strerror or exc}")
    return result


def _execute_version(
    plan: VersionPlan,
    root: Path | None,
    result: PruneResult,
    stop: threading.Event | None,
    on_step: Callable[[str], None] | None,
) -> int:
    version = plan.version
    freed = 0
    if plan.leftovers:
        left = purge_trash(version, root)
        _record(version, {"what": "leftovers of an interrupted prune", "kind": "leftovers",
                          "bytes": left, "at": _now()})  # fmt: skip
        freed += left
    for removal in plan.removals:
        if stop is not None and stop.is_set():
            break
        checkpoint = version.checkpoint(removal.checkpoint)
        if checkpoint is None:
            continue
        if on_step is not None:
            on_step(f"{version.id}: {removal.label}")
        if removal.kind == "checkpoint":
            size = tree_bytes(checkpoint.path)
            trash_checkpoint(version, checkpoint, root)
            _record(version, {"what": checkpoint.name, "kind": "checkpoint", "bytes": size,
                              "reason": removal.reason, "at": _now()})  # fmt: skip
            purge_trash(version, root)
        else:
            size = remove_checkpoint_files(version, checkpoint, list(removal.names), root)
            _record(version, {"what": f"{checkpoint.name}/{','.join(removal.names)}",
                              "kind": "state", "files": list(removal.names), "bytes": size,
                              "reason": removal.reason, "at": _now()})  # fmt: skip
        freed += size
        result.done.append(removal)
    return freed
