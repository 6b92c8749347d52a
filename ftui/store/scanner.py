"""Scan a root folder into `Version` objects.

One pass over the root, one `scandir` per version folder, the metadata JSON, the
adapter_config and the safetensors header: nothing else is read (loss histories stay
lazy). A damaged version is returned with its problems; it never stops the scan.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .fields import (
    as_dict,
    as_float,
    as_int,
    as_str,
    as_str_map,
    as_str_tuple,
    first,
    parse_time,
)
from .history import load_checkpoint_history
from .ids import invalid_id_version, is_valid_id
from .jsonio import ReadError, read_json_object
from .liveness import running_problem
from .model import (
    EMPTY,
    AdapterInfo,
    Checkpoint,
    Layout,
    LoraSettings,
    Metrics,
    Parent,
    Problem,
    Status,
    Version,
)
from .naming import PREFIX, folder_candidates, id_from_metadata_name, metadata_name, pick_folder
from .safetensors_header import read_adapter

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_TRAINER_MARKERS = frozenset({ADAPTER_WEIGHTS, ADAPTER_CONFIG, "trainer_state.json"})
_ROOT_MARKERS = _TRAINER_MARKERS  # a root holding these is itself one run


class RootError(Exception):
    """The root folder itself cannot be scanned; `str()` is a one-line reason."""


@dataclass(frozen=True, slots=True)
class FolderListing:
    """What one `scandir` of a version folder found."""

    files: frozenset[str]
    checkpoints: tuple[tuple[int, str], ...]  # (step, name), sorted by step
    exists: bool = True
    link: str | None = None  # the folder is a symbolic link (to this): never walked into


def scan(root: Path) -> list[Version]:
    """Every version under `root`, newest first. Raises `RootError` if root is unusable."""
    return sorted(iter_versions(root), key=lambda v: (v.created or 0.0, v.id), reverse=True)


def iter_versions(root: Path) -> Iterator[Version]:
    """Yield versions as they are read (for incremental display).

    Each `metadata_<id>.json` is paired with its folder (`v_<id>/`, the tutorial's
    naming; `metadata_v_<stamp>.json` pairs with `v_<stamp>/` the same way), and a
    folder paired with metadata is never listed again as a plain Trainer folder.
    """
    metadata_ids: list[str] = []
    folders: list[str] = []
    names: set[str] = set()
    for name, is_dir in _list_root(root):
        names.add(name)
        if is_dir:
            folders.append(name)
        else:
            version_id = id_from_metadata_name(name)
            if version_id is not None:
                metadata_ids.append(version_id)
    pairs, duplicates = pair_metadata(metadata_ids, names)
    for version_id in metadata_ids:
        if not is_valid_id(version_id):  # `metadata_.json` names the root: never a version
            yield invalid_id_version(root, version_id, metadata_name(version_id))
        elif version_id in pairs:
            yield read_described_version(
                root, version_id, pairs[version_id], duplicates.get(version_id, ())
            )
    claimed = set(pairs.values())
    for name in folders:
        if name in claimed or name.startswith(".") or _CHECKPOINT.match(name):
            continue  # checkpoints at the top: the root itself is a run, read below
        listing = list_folder(root / name)
        if _TRAINER_MARKERS & listing.files or listing.checkpoints:
            yield read_trainer_version(root / name, listing)
    if not metadata_ids:
        listing = list_folder(root)
        if listing.checkpoints or _ROOT_MARKERS & listing.files:
            yield read_trainer_version(root, listing)


def pair_metadata(
    metadata_ids: list[str], names: set[str]
) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Pair valid metadata ids with folder names: (id -> folder, id -> other metadata
    files that name the same folder).

    When two metadata files name one folder (`metadata_<stamp>.json` and the older
    `metadata_v_<stamp>.json` both pair with `v_<stamp>/`), the tutorial's naming wins
    and the other file is reported as a problem of that version, never listed twice.
    """
    owner: dict[str, str] = {}  # folder -> id
    pairs: dict[str, str] = {}
    duplicates: dict[str, list[str]] = {}
    # Ids without the `v_` prefix first: the tutorial's naming owns a shared folder.
    for version_id in sorted(
        (v for v in metadata_ids if is_valid_id(v)), key=lambda v: (v.startswith(PREFIX), v)
    ):
        folder = pick_folder(version_id, names)
        if folder in owner:
            duplicates.setdefault(owner[folder], []).append(metadata_name(version_id))
            continue
        owner[folder] = version_id
        pairs[version_id] = folder
    return pairs, {k: tuple(v) for k, v in duplicates.items()}


def _list_root(root: Path) -> Iterator[tuple[str, bool]]:
    try:
        iterator = os.scandir(root)
    except FileNotFoundError:
        raise RootError(f"{root}: no such folder") from None
    except NotADirectoryError:
        raise RootError(f"{root}: not a folder") from None
    except PermissionError:
        raise RootError(f"{root}: permission denied") from None
    except OSError as exc:
        raise RootError(f"{root}: cannot read ({exc.strerror})") from None
    with iterator:
        for entry in iterator:
            try:
                is_dir = entry.is_dir()
            except OSError:  # a symlink loop or a vanished entry: not a version folder
                is_dir = False
            yield entry.name, is_dir


def list_folder(path: Path) -> FolderListing:
    """Files and checkpoint folders directly inside a version folder (links not followed)."""
    files: set[str] = set()
    checkpoints: list[tuple[int, str]] = []
    link = _link_target(path)
    if link is not None:
        return FolderListing(frozenset(), (), exists=False, link=link)
    try:
        with os.scandir(path) as iterator:
            for entry in iterator:
                match = _CHECKPOINT.match(entry.name)
                if match:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            checkpoints.append((int(match[1]), entry.name))
                    except OSError:
                        pass
                else:
                    files.add(entry.name)
    except OSError:
        return FolderListing(frozenset(), (), exists=False)
    checkpoints.sort()
    return FolderListing(frozenset(files), tuple(checkpoints))


def probe_folder(path: Path) -> FolderListing:
    """Like `list_folder`, but skips the listing when a stat shows no subfolders.

    On most Linux filesystems a folder's link count is 2 plus its subfolders, so a
    version without checkpoints costs one stat instead of a directory read. Files are
    then found by opening them.
    """
    try:
        st = os.lstat(path)
    except OSError:
        return FolderListing(frozenset(), (), exists=False)
    if stat.S_ISLNK(st.st_mode):
        return FolderListing(frozenset(), (), exists=False, link=_link_target(path) or "?")
    if not stat.S_ISDIR(st.st_mode):
        return FolderListing(frozenset(), (), exists=False)
    if st.st_nlink == 2:
        return FolderListing(frozenset(), ())
    return list_folder(path)


def _link_target(path: Path) -> str | None:
    """Where `path` points when it is a symbolic link, else None."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def read_described_version(
    root: Path, version_id: str, folder_name: str | None = None, duplicates: tuple[str, ...] = ()
) -> Version:
    """A version with a `metadata_<id>.json` beside its folder (tutorial or ftui layout).

    `folder_name` is the folder the scan paired it with (default: `v_<id>`, or `<id>`
    when only that exists); `duplicates` are other metadata files naming that folder.
    """
    meta_path = root / metadata_name(version_id)
    if folder_name is None:
        present = [n for n in folder_candidates(version_id) if os.path.lexists(root / n)]
        folder_name = pick_folder(version_id, present)
    folder = root / folder_name
    label = folder_name  # problems inside the folder are named from the root
    problems: list[Problem] = []
    try:
        meta = read_json_object(os.path.join(root, meta_path.name))
    except ReadError as exc:
        problems.append(Problem(meta_path.name, str(exc)))
        meta = {}
    for other in duplicates:
        problems.append(
            Problem(other, f"also describes {folder_name}/; {meta_path.name} is the one read")
        )
    layout = Layout.FTUI if "schema_version" in meta else Layout.TUTORIAL
    listing = probe_folder(folder)
    if listing.link is not None:
        link = f"a symbolic link to {listing.link}: not followed"
        problems.append(Problem(f"{label}/", link))
    elif not listing.exists:
        problems.append(Problem(f"{label}/", "version folder missing"))

    recorded = Status.parse(meta.get("status"))
    status = recorded or Status.COMPLETED
    adapter_config = _read_adapter_config(folder, listing, problems, label)
    adapter = _read_weights(folder, listing, problems, label, required=status is Status.COMPLETED)
    lora = _lora_settings(as_dict(meta.get("lora_config")), adapter_config)
    _check_ranks(lora, adapter_config, adapter, as_dict(meta.get("lora_config")), problems, label)

    if status is Status.RUNNING:
        stale = running_problem(as_dict(meta.get("run")))
        if stale:
            status = Status.INTERRUPTED
            problems.append(Problem(meta_path.name, stale))
    if problems and status in (Status.COMPLETED, Status.RUNNING):
        status = Status.DAMAGED
    if meta and recorded is None and "status" in meta:
        problems.append(Problem(meta_path.name, f"unknown status {str(meta['status'])[:40]!r}"))

    metrics_raw = as_dict(meta.get("metrics"))
    data = as_dict(meta.get("data"))
    return Version(
        id=version_id,
        path=folder,
        metadata_path=meta_path,
        layout=layout,
        status=status,
        created=parse_time(meta.get("timestamp")) or parse_time(version_id),
        base_model=as_str(meta.get("model_name"))
        or as_str(adapter_config.get("base_model_name_or_path")),
        lora=lora,
        training_args=_frozen(as_dict(meta.get("training_args"))),
        metrics=Metrics(
            final_train_loss=as_float(first(metrics_raw, "final_train_loss", "train_loss")),
            best_train_loss=as_float(metrics_raw.get("best_train_loss")),
            final_eval_loss=as_float(first(metrics_raw, "final_eval_loss", "eval_loss")),
            best_eval_loss=as_float(metrics_raw.get("best_eval_loss")),
            best_epoch=as_float(metrics_raw.get("best_epoch")),
        ),
        checkpoints=_checkpoints(folder, listing, meta.get("epochs")),
        parent=_parent(meta.get("parent")),
        tags=as_str_tuple(meta.get("tags")),
        notes=as_str(meta.get("notes")) or "",
        num_samples=as_int(first(meta, "num_samples")) or as_int(data.get("num_samples")),
        num_epochs=as_float(meta.get("num_epochs")),
        data_fingerprint=as_str(first(data, "fingerprint")) or as_str(meta.get("data_fingerprint")),
        library_versions=MappingProxyType(as_str_map(meta.get("library_versions"))),
        error=as_str(meta.get("error")),
        adapter=adapter,
        adapter_config=_frozen(adapter_config),
        metadata=_frozen(meta),
        problems=tuple(problems),
    )


def read_trainer_version(folder: Path, listing: FolderListing) -> Version:
    """A plain Trainer output folder with no ftui or tutorial metadata."""
    problems: list[Problem] = []
    name = folder.name
    adapter_config = _read_adapter_config(folder, listing, problems, name)
    adapter = _read_weights(folder, listing, problems, name, required=False)
    lora = _lora_settings({}, adapter_config)
    _check_ranks(lora, adapter_config, adapter, {}, problems, name)
    checkpoints = _checkpoints(folder, listing, None)
    created = None
    with contextlib.suppress(OSError):
        created = folder.stat().st_mtime
    return Version(
        id=name,
        path=folder,
        metadata_path=None,
        layout=Layout.TRAINER,
        status=Status.DAMAGED if problems else Status.COMPLETED,
        created=created,
        base_model=as_str(adapter_config.get("base_model_name_or_path")),
        lora=lora,
        checkpoints=checkpoints,
        adapter=adapter,
        adapter_config=_frozen(adapter_config),
        problems=tuple(problems),
    )


def _read_adapter_config(
    folder: Path, listing: FolderListing, problems: list[Problem], label: str
) -> dict[str, Any]:
    if not listing.exists:
        return {}
    try:
        return read_json_object(os.path.join(folder, ADAPTER_CONFIG), limit=1024 * 1024)
    except ReadError as exc:
        if str(exc) != "missing":
            problems.append(Problem(f"{label}/{ADAPTER_CONFIG}", str(exc)))
        return {}


def _read_weights(
    folder: Path, listing: FolderListing, problems: list[Problem], label: str, required: bool
) -> AdapterInfo | None:
    if not listing.exists:
        return None
    try:
        return read_adapter(os.path.join(folder, ADAPTER_WEIGHTS))
    except ReadError as exc:
        missing = str(exc) == "missing"
        if not missing or (required and not (folder / "adapter_model.bin").exists()):
            problems.append(Problem(f"{label}/{ADAPTER_WEIGHTS}", str(exc)))
        return None


def _lora_settings(meta_lora: dict[str, Any], config: dict[str, Any]) -> LoraSettings:
    """LoRA settings: adapter_config.json wins (it is what peft loads), metadata fills gaps."""

    def pick(key: str) -> Any:
        return config[key] if config.get(key) is not None else meta_lora.get(key)

    rslora = pick("use_rslora")
    return LoraSettings(
        r=as_int(pick("r")),
        alpha=as_float(pick("lora_alpha")),
        dropout=as_float(pick("lora_dropout")),
        target_modules=as_str_tuple(pick("target_modules")),
        use_rslora=rslora if isinstance(rslora, bool) else None,
        bias=as_str(pick("bias")),
    )


def _check_ranks(
    lora: LoraSettings,
    config: dict[str, Any],
    adapter: AdapterInfo | None,
    meta_lora: dict[str, Any],
    problems: list[Problem],
    label: str,
) -> None:
    """The rank must agree across adapter_config.json, the tensors and the metadata."""
    config_r = as_int(config.get("r"))
    meta_r = as_int(meta_lora.get("r"))
    if config_r is not None and meta_r is not None and config_r != meta_r:
        problems.append(
            Problem(f"{label}/{ADAPTER_CONFIG}", f"r={config_r} but the metadata says r={meta_r}")
        )
    expected = config_r if config_r is not None else meta_r
    if adapter is None or expected is None or not adapter.modules:
        return
    if as_dict(config.get("rank_pattern")):
        return  # per-module ranks are allowed to differ
    wrong = sorted(adapter.ranks - {expected})
    if wrong:
        source = ADAPTER_CONFIG if config_r is not None else "metadata"
        problems.append(
            Problem(
                f"{label}/{ADAPTER_WEIGHTS}",
                f"tensors have rank {', '.join(map(str, wrong))} but {source} says r={expected}",
            )
        )


def _checkpoints(folder: Path, listing: FolderListing, epochs: object) -> tuple[Checkpoint, ...]:
    """Checkpoints with epoch and losses from the metadata, else from their trainer_state."""
    recorded: dict[str, dict[str, Any]] = {}
    if isinstance(epochs, list):
        for entry in epochs:
            if isinstance(entry, dict) and isinstance(entry.get("checkpoint"), str):
                recorded[entry["checkpoint"]] = entry
    result = []
    for step, name in listing.checkpoints:
        entry = recorded.get(name)
        if entry is not None:
            epoch = as_float(entry.get("epoch"))
            train_loss = as_float(entry.get("train_loss"))
            eval_loss = as_float(entry.get("eval_loss"))
        else:
            history = load_checkpoint_history(folder / name)
            metrics = history.metrics()
            epoch = history.train[-1].epoch if history.train else None
            train_loss, eval_loss = metrics.final_train_loss, metrics.final_eval_loss
        result.append(Checkpoint(name, folder / name, step, epoch, train_loss, eval_loss))
    return tuple(result)


def _parent(value: object) -> Parent | None:
    if isinstance(value, str) and value:
        return Parent(value)
    if isinstance(value, dict) and isinstance(value.get("version_id"), str):
        mode = value.get("mode")
        return Parent(
            value["version_id"],
            as_str(value.get("checkpoint")),
            mode if isinstance(mode, str) else "fresh",
        )
    return None


def _frozen(mapping: dict[str, Any]) -> MappingProxyType[str, Any] | Any:
    return MappingProxyType(mapping) if mapping else EMPTY
