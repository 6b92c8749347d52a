"""Loading training examples from local files, and their fingerprint.

Accepted inputs: a `.jsonl` file (one JSON object per line, text in `text_field`), a
`.json` file (a list of such objects), a `.txt` file (one example per line), or a folder
of those. In a folder, files whose name starts with `eval`, `valid` or `test` form the
evaluation set unless one is given explicitly. A Hub dataset id is loaded by the engine
through `datasets` (see `load_hub_texts`), never here at validation time.

Pure standard library: validation calls this before any heavy import.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .paths import is_ref, local_path, looks_like_hub_id

SUFFIXES = (".jsonl", ".json", ".txt")
EVAL_PREFIXES = ("eval", "valid", "test", "dev")
MAX_ERROR_TEXT = 60


class DataError(Exception):
    """A dataset cannot be used; `str()` is a one-line reason naming the file."""


@dataclass(frozen=True)
class Examples:
    """The texts a run trains and evaluates on, with where they came from."""

    train: list[str]
    eval: list[str]
    path: str
    eval_path: str | None
    fingerprint: str

    @property
    def num_train(self) -> int:
        return len(self.train)

    @property
    def num_eval(self) -> int:
        return len(self.eval)


def fingerprint(texts: Iterable[str]) -> str:
    """`sha256:<hex>` of the examples' text, in order; length-prefixed so it is unambiguous."""
    digest = hashlib.sha256()
    for text in texts:
        raw = text.encode("utf-8")
        digest.update(len(raw).to_bytes(8, "little"))
        digest.update(raw)
    return f"sha256:{digest.hexdigest()}"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_ERROR_TEXT else text[: MAX_ERROR_TEXT - 3] + "..."


def _open_lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            yield from enumerate(handle, start=1)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _text_of(record: object, text_field: str, where: str) -> str:
    if not isinstance(record, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(record).__name__}")
    if text_field not in record:
        keys = ", ".join(sorted(map(str, record))[:8]) or "none"
        raise DataError(f"{where}: no text field {text_field!r} (keys: {keys})")
    value = record[text_field]
    if not isinstance(value, str):
        raise DataError(f"{where}: {text_field!r} is {type(value).__name__}, not a string")
    return value


def read_file(path: Path, text_field: str = "text") -> list[str]:
    """The non-blank examples of one `.jsonl`, `.json` or `.txt` file."""
    suffix = path.suffix.lower()
    texts: list[str] = []
    if suffix == ".txt":
        texts = [line.rstrip("\r\n") for _, line in _open_lines(path)]
    elif suffix == ".jsonl":
        for number, line in _open_lines(path):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as exc:
                reason = getattr(exc, "msg", "nested too deeply")
                raise DataError(f"{path.name} line {number}: invalid JSON ({reason})") from None
            texts.append(_text_of(record, text_field, f"{path.name} line {number}"))
    elif suffix == ".json":
        try:
            records = json.loads("".join(line for _, line in _open_lines(path)))
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = getattr(exc, "msg", "nested too deeply")
            raise DataError(f"{path.name}: invalid JSON ({reason})") from None
        if isinstance(records, dict) and isinstance(records.get("data"), list):
            records = records["data"]
        if not isinstance(records, list):
            raise DataError(f"{path.name}: expected a list of objects, found {_short(records)}")
        texts = [_text_of(r, text_field, f"{path.name} item {i}") for i, r in enumerate(records)]
    else:
        raise DataError(f"{path}: unsupported file type (use .jsonl, .json or .txt)")
    return [t for t in texts if t.strip()]


def _folder_files(folder: Path) -> tuple[list[Path], list[Path]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
    evals = [p for p in files if p.name.lower().startswith(EVAL_PREFIXES)]
    return [p for p in files if p not in evals], evals


def read_source(value: str, text_field: str = "text", role: str = "dataset") -> list[str]:
    """All examples of a local file or folder (eval files in a folder excluded)."""
    path = local_path(value)
    if path is None:
        raise DataError(f"{role} not found: {value}")
    if path.is_dir():
        files, _ = _folder_files(path)
        if not files:
            raise DataError(f"{value}: no .jsonl, .json or .txt files in this folder")
        texts = [t for f in files for t in read_file(f, text_field)]
    else:
        texts = read_file(path, text_field)
    if not texts:
        raise DataError(f"{role} {value} is empty (no non-blank examples)")
    return texts


def is_hub_dataset(value: str) -> bool:
    """A dataset reference that is not local but could be a Hub id (`train.jsonl` or
    `data/train.txt` name missing files, not datasets on the Hub)."""
    if is_ref(value) or Path(value).suffix.lower() in SUFFIXES:
        return False
    return local_path(value) is None and looks_like_hub_id(value)


def split_eval(texts: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Hold out `fraction` of `texts` (at least one, never all) in a seeded, stable way."""
    if fraction <= 0 or len(texts) < 2:
        return texts, []
    count = min(len(texts) - 1, max(1, round(len(texts) * fraction)))
    chosen = set(random.Random(seed).sample(range(len(texts)), count))
    train = [t for i, t in enumerate(texts) if i not in chosen]
    held = [t for i, t in enumerate(texts) if i in chosen]
    return train, held


def load_examples(
    data: str,
    eval_data: str | None,
    eval_split: float,
    text_field: str,
    seed: int,
    hub_loader: object | None = None,
) -> Examples:
    """Everything a run needs from its data settings; raises `DataError`.

    `hub_loader(id, text_field) -> list[str]` loads Hub datasets (the engine passes one
    that imports `datasets`); without it a non-local dataset is an error.
    """

    def read(value: str, role: str) -> list[str]:
        if is_hub_dataset(value) and callable(hub_loader):
            texts = hub_loader(value, text_field)
            if not texts:
                raise DataError(f"{role} {value} is empty")
            return list(texts)
        return read_source(value, text_field, role)

    train = read(data, "dataset")
    evals: list[str] = []
    eval_path = eval_data
    if eval_data:
        evals = read(eval_data, "eval dataset")
    else:
        folder = local_path(data)
        folder_evals = _folder_files(folder)[1] if folder is not None and folder.is_dir() else []
        if folder_evals and eval_split <= 0:
            evals = [t for f in folder_evals for t in read_file(f, text_field)]
            eval_path = str(folder_evals[0]) if len(folder_evals) == 1 else str(folder)
        elif eval_split > 0:
            train, evals = split_eval(train, eval_split, seed)
            eval_path = f"{data} (split {eval_split:g})"
            if not evals:
                raise DataError(f"dataset {data}: too few examples to hold out an eval split")
    return Examples(
        train=train,
        eval=evals,
        path=data,
        eval_path=eval_path if evals else None,
        fingerprint=fingerprint(train),
    )


def load_hub_texts(dataset_id: str, text_field: str) -> list[str]:
    """Load the `train` split of a Hub dataset (needs the network or a warm cache)."""
    import datasets  # heavy: only when a Hub dataset is asked for

    try:
        loaded = datasets.load_dataset(dataset_id, split="train")
    except Exception as exc:  # noqa: BLE001 - any loader failure is one line for the user
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"dataset {dataset_id}: cannot load from the Hub ({first})") from None
    if text_field not in loaded.column_names:
        columns = ", ".join(loaded.column_names[:8])
        raise DataError(f"dataset {dataset_id}: no text field {text_field!r} (columns: {columns})")
    return [t for t in loaded[text_field] if isinstance(t, str) and t.strip()]
