"""Building the spec of a retrain from a stored version (or one of its checkpoints).

ftui versions carry their full `spec` in the metadata. Tutorial-script versions and plain
Trainer folders do not: their base model and LoRA settings come from the metadata's
`lora_config`/`model_name` and `adapter_config.json`, the rest from the defaults.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.model import Version

from .spec import RunSpec, SpecError

_CHECKPOINT = re.compile(r"^(?:checkpoint-)?(\d+)$")


def _checkpoints(folder: Path) -> list[str]:
    found = [
        p.name for p in folder.glob("checkpoint-*") if p.is_dir() and _CHECKPOINT.match(p.name)
    ]
    return sorted(found, key=lambda name: int(name.rsplit("-", 1)[1]))


def _resolve(root: Path, name: str) -> tuple[Version, str | None]:
    """The version `name` means (`<id>`, `v_<id>`, `<id>:checkpoint-N`, `<id>:N`) and the
    checkpoint the name carries, through the one resolver every command uses."""
    from ftui.store.naming import UnknownVersion, resolve_version, split_checkpoint
    from ftui.store.scanner import RootError, scan

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


def _folder_of(version: Version) -> Path | None:
    return version.path if version.path.is_dir() and not version.path.is_symlink() else None


def normalize_checkpoint(
    folder: Path | None, checkpoint: str | None, version_id: str
) -> str | None:
    """`"66"` or `"checkpoint-66"` -> `"checkpoint-66"`, checked against the folder."""
    if checkpoint is None or not str(checkpoint).strip():
        return None
    match = _CHECKPOINT.match(str(checkpoint).strip())
    if not match:
        raise SpecError(f"checkpoint {checkpoint!r}: expected a step number or checkpoint-<step>")
    name = f"checkpoint-{int(match.group(1))}"
    if folder is None or not (folder / name).is_dir():
        available = ", ".join(_checkpoints(folder)) if folder is not None else ""
        raise SpecError(f"{version_id} has no {name} (available: {available or 'none'})")
    return name


def _read_metadata(version: Version, version_id: str) -> dict[str, Any]:
    if version.metadata_path is None:
        return {}
    try:
        return read_json_object(version.metadata_path)
    except ReadError as exc:
        if str(exc) == "missing":
            return {}
        raise SpecError(f"{version_id}: metadata {exc}") from None


def _adapter_config(folder: Path | None) -> dict[str, Any]:
    """The version's adapter_config.json, else that of its latest checkpoint."""
    if folder is None:
        return {}
    candidates = [folder, *[folder / c for c in reversed(_checkpoints(folder))]]
    for candidate in candidates:
        try:
            return read_json_object(candidate / "adapter_config.json")
        except ReadError:
            continue
    return {}


def _legacy_spec(root: Path, record: Mapping[str, Any], adapter: Mapping[str, Any]) -> RunSpec:
    """A spec for a version without `spec`: tutorial metadata, else the adapter's config."""
    lora = record.get("lora_config") if isinstance(record.get("lora_config"), dict) else {}
    assert isinstance(lora, dict)
    values: dict[str, Any] = {}
    model = record.get("model_name") or adapter.get("base_model_name_or_path")
    if isinstance(model, str) and model.strip():
        values["base_model"] = model
    for key, name in (("r", "r"), ("lora_alpha", "alpha"), ("lora_dropout", "dropout"),
                      ("target_modules", "target_modules"), ("use_rslora", "use_rslora"),
                      ("bias", "bias")):  # fmt: skip
        value = lora.get(key, adapter.get(key))
        if value is not None:
            values[name] = sorted(value) if isinstance(value, list | set) else value
    if isinstance(record.get("num_epochs"), int | float):
        values["epochs"] = record["num_epochs"]
    return RunSpec.defaults(root).with_overrides(values)


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
) -> RunSpec:
    """The spec of `version_id` with `overrides` applied, as a child of that version.

    `checkpoint` (a step number or `checkpoint-<step>`) records where the child starts;
    with `continue_training` training starts from that adapter's weights (the version's
    final adapter when no checkpoint is given), else fresh from the base model.
    Raises `SpecError` with a one-line reason.
    """
    root = Path(root).expanduser().resolve()
    name = version_id
    version, named_checkpoint = _resolve(root, name)
    version_id = version.id
    record = _read_metadata(version, version_id)
    folder = _folder_of(version)
    if not record and folder is None:
        raise SpecError(f"no version {version_id} in {root}")
    checkpoint_name = normalize_checkpoint(folder, checkpoint, version_id)
    if named_checkpoint is not None:
        from_name = normalize_checkpoint(folder, named_checkpoint, version_id)
        if checkpoint_name is not None and checkpoint_name != from_name:
            raise SpecError(f"{name} names {from_name} but --from-checkpoint {checkpoint}")
        checkpoint_name = from_name
    stored = record.get("spec")
    if isinstance(stored, dict):
        base = RunSpec.from_dict(stored)
    else:
        base = _legacy_spec(root, record, _adapter_config(folder))
    spec = base.with_overrides(dict(overrides or {}))
    spec = replace(
        spec,
        root=str(root),
        parent=version_id,
        parent_checkpoint=checkpoint_name,
        continue_from_parent=continue_training,
    )
    if continue_training:
        source = folder / checkpoint_name if folder is not None and checkpoint_name else folder
        if source is None or not (source / "adapter_model.safetensors").is_file():
            available = ", ".join(_checkpoints(folder)) if folder is not None else ""
            raise SpecError(
                f"{version_id} has no final adapter to continue from; pick a checkpoint "
                f"(available: {available or 'none'})"
            )
        where = f"{version_id}/{checkpoint_name}" if checkpoint_name else version_id
        _check_continuable(spec, _adapter_config(source), where)
    return spec
