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
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .aliases import aliases_by_version, frozen_aliases, load_aliases
from .digests import MANIFEST_KEY, quick_problem
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
from .folder_weights import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    MERGED_INDEX,
    MERGED_WEIGHTS,
    NONE,
    PICKLE_WEIGHTS,
    check_ranks,
    lora_settings,
    read_config,
    read_folder,
    read_weights,
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
    Metrics,
    Parent,
    Problem,
    Status,
    Version,
)
from .naming import (
    METADATA_PREFIX,
    METADATA_SUFFIX,
    PREFIX,
    folder_candidates,
    folder_name,
    metadata_name,
    name_variants,
    pick_folder,
    split_checkpoint,
)

_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")
_TRAINER_MARKERS = frozenset(
    {ADAPTER_WEIGHTS, ADAPTER_CONFIG, "trainer_state.json", PICKLE_WEIGHTS, MERGED_WEIGHTS,
     MERGED_INDEX}
)  # fmt: skip
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
    """Yield versions as they are read (for incremental display), with their aliases."""
    versions = _iter_versions(root)
    aliases = load_aliases(root) if os.path.isdir(root) else {}
    if not aliases:
        yield from versions
        return
    targets = {split_checkpoint(t)[0] for t in aliases.values()}
    for version in versions:
        if not targets.isdisjoint(name_variants(version.id)):
            named = aliases_by_version(aliases, [version]).get(version.id)
            if named:
                version = replace(version, aliases=frozen_aliases(named))
        yield version


def _iter_versions(root: Path) -> Iterator[Version]:
    """Yield versions as they are read (for incremental display), newest id first.

    Each `metadata_<id>.json` is paired with its folder (`v_<id>/`, the tutorial's
    naming; `metadata_v_<stamp>.json` pairs with `v_<stamp>/` the same way), and a
    folder paired with metadata is never listed again as a plain Trainer folder.
    Ids are timestamps, so the first versions read are, as a rule, the ones a
    newest-first list shows at the top: a screen can show them before the rest of a
    large folder has been read.
    """
    metadata_ids, others, names = _list_root(root)
    _sort_newest_first(metadata_ids)
    # Each version is paired with its folder as it is read (`pair_one`), not all of them
    # first: the newest can be on screen before a large folder's pairing is done.
    ids = set(metadata_ids)
    for version_id in metadata_ids:
        if not is_valid_id(version_id):  # `metadata_.json` names the root: never a version
            yield invalid_id_version(root, version_id, metadata_name(version_id))
            continue
        folder, duplicates = pair_one(version_id, ids, names)
        if folder is not None:
            yield read_described_version(root, version_id, folder, duplicates)
    pairs, _ = pair_metadata(metadata_ids, names)
    claimed = set(pairs.values())
    metadata_files = {metadata_name(v) for v in metadata_ids}
    others = [name for name in others if name not in claimed and name not in metadata_files]
    folders = _folders(root, others)
    _sort_newest_first(folders)
    for name in folders:
        if name.startswith(".") or _CHECKPOINT.match(name):
            continue  # checkpoints at the top: the root itself is a run, read below
        listing = list_folder(root / name)
        if _TRAINER_MARKERS & listing.files or listing.checkpoints:
            yield read_trainer_version(root / name, listing)
    if not metadata_ids:
        listing = list_folder(root)
        if listing.checkpoints or _ROOT_MARKERS & listing.files:
            yield read_trainer_version(root, listing)


def _sort_newest_first(names: list[str]) -> None:
    prefixed = sum(1 for name in names if name.startswith(PREFIX))
    if prefixed in (0, len(names)):  # one spelling: plain order (C speed)
        names.sort(reverse=True)
    else:
        names.sort(key=_newest_first, reverse=True)


def _newest_first(name: str) -> str:
    """Sort key of an id or folder name: without the `v_` prefix (reversed: newest first)."""
    return name[len(PREFIX) :] if name.startswith(PREFIX) else name


def pair_one(version_id: str, ids: set[str], names: set[str]) -> tuple[str | None, tuple[str, ...]]:
    """`pair_metadata` for one valid id: (its folder, or None when another metadata file
    owns that folder; the other metadata files naming its folder).

    Only `<stamp>` and `v_<stamp>` can name one folder, `v_<stamp>/`, and then the
    tutorial's `<stamp>` owns it. Equivalent to `pair_metadata` (a property test says so).
    """
    if version_id.startswith(PREFIX):
        bare = version_id[len(PREFIX) :]
        if bare in ids and is_valid_id(bare) and pick_folder(bare, names) == version_id:
            return None, ()
        return folder_name(version_id), ()
    folder = pick_folder(version_id, names)
    other = PREFIX + version_id
    if folder == other and other in ids and is_valid_id(other):
        return folder, (metadata_name(other),)
    return folder, ()


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
    valid = [v for v in metadata_ids if is_valid_id(v)]
    # Ids without the `v_` prefix first: the tutorial's naming owns a shared folder.
    bare = sorted(v for v in valid if not v.startswith(PREFIX))
    prefixed = sorted(v for v in valid if v.startswith(PREFIX))
    for version_id in bare + prefixed:
        folder = folder_name(version_id)  # pick_folder's first choice, the usual case
        if folder not in names:
            folder = pick_folder(version_id, names)
        if folder in owner:
            duplicates.setdefault(owner[folder], []).append(metadata_name(version_id))
            continue
        owner[folder] = version_id
        pairs[version_id] = folder
    return pairs, {k: tuple(v) for k, v in duplicates.items()}


def _list_root(root: Path) -> tuple[list[str], list[str], set[str]]:
    """The ids of the metadata files directly in `root`, and the names of all its
    entries, as a list and as a set (`_folders` tells which are folders).

    One `listdir` (a root may hold 20,000 entries): a name is enough to tell metadata
    (`metadata_<id>.json`; one that is not a readable file is reported as damage).
    """
    try:
        entries = os.listdir(root)
    except FileNotFoundError:
        raise RootError(f"{root}: no such folder") from None
    except NotADirectoryError:
        raise RootError(f"{root}: not a folder") from None
    except PermissionError:
        raise RootError(f"{root}: permission denied") from None
    except OSError as exc:
        raise RootError(f"{root}: cannot read ({exc.strerror})") from None
    start, end = len(METADATA_PREFIX), -len(METADATA_SUFFIX)
    metadata_ids = [
        name[start:end]
        for name in entries
        if name.startswith(METADATA_PREFIX) and name.endswith(METADATA_SUFFIX)
    ]
    return metadata_ids, entries, set(entries)


def _folders(root: Path, names: list[str]) -> list[str]:
    """The names that are folders (links to folders included), in the given order."""
    return [name for name in names if os.path.isdir(root / name)]


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
    meta_lora = as_dict(meta.get("lora_config"))
    adapter_config, adapter, kind, checkpoints = _read_contents(
        folder, listing, problems, label, meta_lora, meta.get("epochs"), status
    )
    lora = lora_settings(meta_lora, adapter_config)

    if status.live:
        stale = running_problem(as_dict(meta.get("run")))
        if stale:
            status = Status.INTERRUPTED
            problems.append(Problem(meta_path.name, stale))
    if MANIFEST_KEY in meta:
        checkpoints = _complete_checkpoints(
            checkpoints, as_dict(meta.get(MANIFEST_KEY)), status.live, problems, label
        )
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
        checkpoints=checkpoints,
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
        kind=kind,
    )


def _read_contents(
    folder: Path,
    listing: FolderListing,
    problems: list[Problem],
    label: str,
    meta_lora: dict[str, Any],
    epochs: object,
    status: Status | None,
) -> tuple[dict[str, Any], AdapterInfo | None, str, tuple[Checkpoint, ...]]:
    """A version folder's adapter_config, adapter, kind and checkpoints, all checked.

    A folder with only `checkpoint-N/` (a Trainer output_dir before `save_model`) takes
    its LoRA settings and base model from the newest checkpoint's adapter_config.json,
    and is not missing its adapter: the checkpoints hold them.
    """
    if not listing.exists:
        return {}, None, NONE, ()
    required = status is Status.COMPLETED and not listing.checkpoints
    config = read_config(folder, problems, label)
    adapter, kind = read_weights(folder, problems, label, required)
    check_ranks(config, adapter, meta_lora, problems, label)
    checkpoints, newest_config = _checkpoints(folder, listing, epochs, label, problems, meta_lora)
    if kind == NONE and checkpoints:
        kind = checkpoints[-1].kind
    return config or newest_config, adapter, kind, checkpoints


def read_trainer_version(folder: Path, listing: FolderListing) -> Version:
    """A plain Trainer output folder with no ftui or tutorial metadata."""
    problems: list[Problem] = []
    name = folder.name
    adapter_config, adapter, kind, checkpoints = _read_contents(
        folder, listing, problems, name, {}, None, None
    )
    lora = lora_settings({}, adapter_config)
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
        kind=kind,
    )


def _checkpoints(
    folder: Path,
    listing: FolderListing,
    epochs: object,
    label: str,
    problems: list[Problem],
    meta_lora: dict[str, Any],
) -> tuple[tuple[Checkpoint, ...], dict[str, Any]]:
    """Checkpoints, each one's adapter checked like a version's (its problems are also the
    version's, naming the checkpoint), with epoch and losses from the metadata, else from
    their trainer_state, and its own adapter_config and LoRA settings (by the version's
    precedence rule); and the newest checkpoint's adapter_config."""
    recorded: dict[str, dict[str, Any]] = {}
    if isinstance(epochs, list):
        for entry in epochs:
            if isinstance(entry, dict) and isinstance(entry.get("checkpoint"), str):
                recorded[entry["checkpoint"]] = entry
    result = []
    newest_config: dict[str, Any] = {}
    for step, name in listing.checkpoints:
        own: list[Problem] = []
        weights = read_folder(folder / name, own, f"{label}/{name}", required=True)
        problems += own
        if weights.config:
            newest_config = weights.config  # sorted by step: the last one is the newest
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
        result.append(
            Checkpoint(
                name,
                folder / name,
                step,
                epoch,
                train_loss,
                eval_loss,
                weights.kind,
                tuple(own),
                adapter_config=_frozen(weights.config),
                lora=lora_settings(meta_lora, weights.config),
            )  # fmt: skip
        )
    return tuple(result), newest_config


def _complete_checkpoints(
    checkpoints: tuple[Checkpoint, ...],
    manifests: dict[str, Any],
    live: bool,
    problems: list[Problem],
    label: str,
) -> tuple[Checkpoint, ...]:
    """Only the checkpoints ftui recorded as completely saved (names and sizes match their
    manifest). A folder caught half-written is never offered; once its run has ended it
    is reported (while the run lives, the newest may just be being written)."""
    kept = []
    for ckpt in checkpoints:
        reason = quick_problem(ckpt.path, manifests.get(ckpt.name))
        if reason is None:
            kept.append(ckpt)
        elif not (live and ckpt.name not in manifests):
            problems.append(Problem(f"{label}/{ckpt.name}/", f"incomplete checkpoint: {reason}"))
    return tuple(kept)


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
