"""Building the spec of a retrain from a scanned version (or one of its checkpoints).

Everything comes from the `Version` the scanner built; nothing is read again here, so a
retrain starts from exactly what the tree and `ftui inspect` show. ftui versions carry
their full `spec` in the metadata. Tutorial-script versions and plain Trainer folders do
not: their base model and epochs come from the metadata, the rest from the defaults. In
both, the LoRA settings are the scanned ones (`Version.lora`, or the checkpoint's own):
the store's one precedence rule, where adapter_config.json (what peft loads) wins.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ftui.store.model import LoraSettings, Version

from .spec import RunSpec, SpecError

_CHECKPOINT = re.compile(r"^(?:checkpoint-)?(\d+)$")


def _resolve(
    root: Path, name: str, versions: Iterable[Version] | None = None
) -> tuple[Version, str | None]:
    """The version `name` means (`<id>`, `v_<id>`, `<id>:checkpoint-N`, `<id>:N`) and the
    checkpoint the name carries, through the one resolver every command uses. `versions`
    (already read, e.g. the app's selection) saves scanning the root."""
    from ftui.store.naming import UnknownVersion, resolve_version, split_checkpoint
    from ftui.store.scanner import RootError, scan

    if versions is None:
        try:
            versions = scan(root)
        except RootError as exc:
            raise SpecError(str(exc)) from None
    version_name, checkpoint = split_checkpoint(name)
    try:
        resolved = resolve_version(versions, version_name)
    except UnknownVersion as exc:
        raise SpecError(str(exc)) from None
    return resolved.version, checkpoint


def _has_folder(version: Version) -> bool:
    return version.path.is_dir() and not version.path.is_symlink()


def normalize_checkpoint(version: Version, checkpoint: str | None) -> str | None:
    """`"66"` or `"checkpoint-66"` -> `"checkpoint-66"`, one of the version's checkpoints
    (the complete ones the scanner lists: a half-written one is never offered)."""
    if checkpoint is None or not str(checkpoint).strip():
        return None
    match = _CHECKPOINT.match(str(checkpoint).strip())
    if not match:
        raise SpecError(f"checkpoint {checkpoint!r}: expected a step number or checkpoint-<step>")
    name = f"checkpoint-{int(match.group(1))}"
    if version.checkpoint(name) is None:
        for problem in version.problems:  # there, but left out by the scan: say why
            if problem.file.rstrip("/").endswith(f"/{name}"):
                raise SpecError(f"{version.id}/{name} cannot be used: {problem.reason}")
        available = ", ".join(c.name for c in version.checkpoints)
        raise SpecError(f"{version.id} has no {name} (available: {available or 'none'})")
    return name


def _unreadable_metadata(version: Version) -> str | None:
    """Why the version's metadata could not be read (the scanner's problem), or None."""
    if version.metadata_path is None or version.metadata:
        return None
    for problem in version.problems:
        if problem.file == version.metadata_path.name:
            return problem.reason
    return None


def _settings(version: Version, checkpoint: str | None) -> tuple[LoraSettings, Mapping[str, Any]]:
    """The LoRA settings and adapter_config a child starts from: the checkpoint's own when
    it has a config, else the version's (both as the scanner read them)."""
    ckpt = version.checkpoint(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.adapter_config:
        return ckpt.lora, ckpt.adapter_config
    return version.lora, version.adapter_config


def base_spec(root: Path, version: Version, lora: LoraSettings) -> RunSpec:
    """The spec a version was trained with, as far as it is known: its recorded spec (ftui),
    else the defaults with its base model and epochs; then its scanned LoRA settings.

    A recorded spec that leaves the target modules to the architecture keeps doing so
    (the adapter's list is what that choice resolved to)."""
    recorded = version.recorded_spec
    if recorded:
        spec = RunSpec.from_dict(recorded)
    else:
        values: dict[str, Any] = {}
        if version.base_model and version.base_model.strip():
            values["base_model"] = version.base_model
        if version.num_epochs is not None:
            values["epochs"] = version.num_epochs
        spec = RunSpec.defaults(root).with_overrides(values)
    settings = lora.known()
    if recorded and spec.target_modules is None:
        settings.pop("target_modules", None)
    return spec.with_overrides(settings)


def _check_continuable(spec: RunSpec, adapter: Mapping[str, Any], where: str) -> None:
    for name, key in (("r", "r"), ("alpha", "lora_alpha"), ("dropout", "lora_dropout")):
        have = adapter.get(key)
        if isinstance(have, int | float) and not math.isclose(
            float(have), float(getattr(spec, name))
        ):
            raise SpecError(
                f"--continue keeps the parent's adapter ({key}={have:g} in {where}); "
                f"{name}={getattr(spec, name):g} needs a fresh retrain (drop --continue)"
            )


def spec_for_retrain(
    root: Path,
    version_id: str,
    checkpoint: str | None = None,
    overrides: Mapping[str, str] | None = None,
    continue_training: bool = False,
    versions: Iterable[Version] | None = None,
) -> RunSpec:
    """The spec of `version_id` with `overrides` applied, as a child of that version.

    `version_id` is any name of it (`<id>`, `v_<id>`, `<id>:N`). `checkpoint` (a step
    number or `checkpoint-<step>`) records where the child starts;
    with `continue_training` training starts from that adapter's weights (the version's
    final adapter when no checkpoint is given), else fresh from the base model.
    Raises `SpecError` with a one-line reason.
    """
    root = Path(root).expanduser().resolve()
    name = version_id
    version, named_checkpoint = _resolve(root, name, versions)
    version_id = version.id
    unreadable = _unreadable_metadata(version)
    if unreadable is not None and unreadable != "missing":
        raise SpecError(f"{version_id}: metadata {unreadable}")
    if not version.metadata and not _has_folder(version):
        raise SpecError(f"no version {version_id} in {root}")
    checkpoint_name = normalize_checkpoint(version, checkpoint)
    if named_checkpoint is not None:
        from_name = normalize_checkpoint(version, named_checkpoint)
        if checkpoint_name is not None and checkpoint_name != from_name:
            raise SpecError(f"{name} names {from_name} but --from-checkpoint {checkpoint}")
        checkpoint_name = from_name
    lora, adapter_config = _settings(version, checkpoint_name)
    spec = base_spec(root, version, lora).with_overrides(dict(overrides or {}))
    spec = replace(
        spec,
        root=str(root),
        parent=version_id,
        parent_checkpoint=checkpoint_name,
        continue_from_parent=continue_training,
    )
    if continue_training:
        ckpt = version.checkpoint(checkpoint_name) if checkpoint_name else None
        usable = ckpt.kind == "lora" if ckpt is not None else version.adapter is not None
        if not _has_folder(version) or not usable:
            available = ", ".join(c.name for c in version.checkpoints if c.kind == "lora")
            raise SpecError(
                f"{version_id} has no final adapter to continue from; pick a checkpoint "
                f"(available: {available or 'none'})"
            )
        where = f"{version_id}/{checkpoint_name}" if checkpoint_name else version_id
        _check_continuable(spec, adapter_config, where)
    return spec
