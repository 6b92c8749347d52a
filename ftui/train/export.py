"""Export a version (or checkpoint) as a folder to hand to someone else.

- adapter export: adapter_model.safetensors, adapter_config.json (its base resolved to
  something `from_pretrained` can load), tokenizer files and a model card (README.md)
  made from the metadata. `AutoModelForCausalLM.from_pretrained(OUT)` loads it.
- merged export (`merge=True`): the adapter merged into the base model with peft's
  `merge_and_unload`, saved as a full safetensors model with tokenizer and model card.

Everything is written into a hidden temporary folder beside OUT and renamed into place
at the end, so a failure (a full disk) never leaves a folder that looks complete.
The Hugging Face stack is imported inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ftui.store.jsonio import ReadError, dumps, read_json_object
from ftui.store.model import Checkpoint, Version
from ftui.store.safetensors_header import read_adapter

from .paths import is_ref

ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
    "merges.txt", "tokenizer.model", "added_tokens.json", "chat_template.jinja",
)  # fmt: skip


class ExportError(Exception):
    """The export could not be made; `str()` is a one-line reason. Nothing was left."""


class ExportFailed(ExportError):
    """Writing the export failed part way (a full disk, a library error); nothing was left."""


def check_destination(out: Path) -> None:
    """OUT must not exist, or be an empty folder; its parent must exist or be creatable."""
    if os.path.lexists(out):
        if out.is_symlink() or not out.is_dir():
            raise ExportError(f"{out} exists and is not a folder: not overwritten")
        if any(out.iterdir()):
            raise ExportError(f"{out} is not empty: export into a new or empty folder")


def _source(version: Version, checkpoint: Checkpoint | None) -> Path:
    folder = checkpoint.path if checkpoint is not None else version.path
    if folder.is_symlink():
        raise ExportError(f"{folder} is a symbolic link: not followed")
    try:
        read_adapter(folder / ADAPTER_WEIGHTS)
    except ReadError as exc:
        raise ExportError(f"{folder.name}/{ADAPTER_WEIGHTS}: {exc}") from None
    return folder


def base_location(version: Version, config: Mapping[str, Any]) -> str:
    """What to load as the base model: a local folder (absolute) or a Hub id."""
    from .modelprep import model_location

    recorded = config.get("base_model_name_or_path") or version.base_model
    if not isinstance(recorded, str) or not recorded.strip():
        raise ExportError(f"{version.id}: no base model recorded")
    location, is_local = model_location(recorded)
    if not is_local and (is_ref(recorded) or recorded.startswith(("/", ".", "~"))):
        raise ExportError(f"{version.id}: the base model {recorded} is not on this machine")
    return location


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def model_card(version: Version, checkpoint: Checkpoint | None, base: str, merged: bool) -> str:
    """README.md for the export: what it is, how it was made, how to load it."""
    meta = version.metadata
    lora = version.lora
    label = f"{version.id}:{checkpoint.name}" if checkpoint else version.id
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    assert isinstance(data, dict)
    lines = [
        "---",
        f"base_model: {json.dumps(version.base_model or base)}",
        "library_name: " + ("transformers" if merged else "peft"),
        "tags: [lora, ftui" + (", merged" if merged else "") + "]",
        "---",
        "",
        f"# {label}" + (" (merged)" if merged else ""),
        "",
        (
            "The LoRA adapter below merged into its base model: a full model."
            if merged
            else "A LoRA adapter, exported by ftui."
        ),  # fmt: skip
        "",
        "## Base model and LoRA",
        "",
        f"- base model: `{version.base_model or base}` (loaded from `{base}`)",
        f"- r: {_number(lora.r)}, alpha: {_number(lora.alpha)}, dropout: {_number(lora.dropout)}",
        f"- target modules: {', '.join(lora.target_modules) or '—'}",
        f"- rsLoRA: {_number(lora.use_rslora)}, bias: {_number(lora.bias)}",
        "",
        "## Data",
        "",
        f"- examples: {_number(version.num_samples)}, epochs: {_number(version.num_epochs)}",
        f"- data: `{data.get('path', '—')}`",
        f"- fingerprint: `{version.data_fingerprint or '—'}`",
        "",
        "## Metrics",
        "",
    ]
    m = version.metrics
    lines += [
        f"- final train loss: {_number(m.final_train_loss)}",
        f"- final eval loss: {_number(m.final_eval_loss)}",
        f"- best eval loss: {_number(m.best_eval_loss)} (epoch {_number(m.best_epoch)})",
    ]
    if checkpoint is not None:
        lines.append(
            f"- this checkpoint ({checkpoint.name}, epoch {_number(checkpoint.epoch)}): "
            f"train loss {_number(checkpoint.train_loss)}, eval loss "
            f"{_number(checkpoint.eval_loss)}"
        )
    lines += ["", "## Lineage", ""]
    if version.parent is not None:
        parent = version.parent
        via = f":{parent.checkpoint}" if parent.checkpoint else ""
        lines.append(f"- parent: `{parent.version_id}{via}` ({parent.mode})")
    else:
        lines.append("- trained from the base model (no parent)")
    lines.append(f"- version: `{version.id}`, created {meta.get('timestamp', '—')}")
    args = dict(version.training_args)
    if args:
        lines += ["", "## Training arguments", "", "```json", dumps(args).rstrip(), "```"]
    libs = dict(version.library_versions)
    if libs:
        lines += ["", "## Libraries", ""]
        lines += [f"- {name} {value}" for name, value in sorted(libs.items())]
    load = (
        "model = AutoModelForCausalLM.from_pretrained(folder)"
        if merged
        else "model = AutoModelForCausalLM.from_pretrained(folder)  # peft installed\n"
        "# or: PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base), folder)"
    )
    lines += ["", "## Loading", "", "```python", "from transformers import AutoModelForCausalLM",
              "", load, "```", ""]  # fmt: skip
    return "\n".join(str(line) for line in lines)


def _write_adapter(source: Path, target: Path, base: str) -> dict[str, Any]:
    try:
        config = read_json_object(source / ADAPTER_CONFIG)
    except ReadError as exc:
        raise ExportError(f"{source.name}/{ADAPTER_CONFIG}: {exc}") from None
    config["base_model_name_or_path"] = base
    shutil.copyfile(source / ADAPTER_WEIGHTS, target / ADAPTER_WEIGHTS)
    (target / ADAPTER_CONFIG).write_text(dumps(config), encoding="utf-8")
    return config


def _write_tokenizer(version: Version, source: Path, target: Path, base: str) -> None:
    """The tokenizer saved with the run when there is one, else the base model's."""
    for folder in (source, version.path):
        found = [
            n for n in TOKENIZER_FILES if (folder / n).is_file() and not (folder / n).is_symlink()
        ]
        if "tokenizer_config.json" in found:
            for name in found:
                shutil.copyfile(folder / name, target / name)
            return
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=os.path.isdir(base))
    tokenizer.save_pretrained(str(target))


def _merge(adapter_folder: Path, target: Path, base: str) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    with warnings.catch_warnings():  # library deprecation notices are not the user's concern
        warnings.simplefilter("ignore", FutureWarning)
        model = AutoModelForCausalLM.from_pretrained(base, local_files_only=os.path.isdir(base))
        merged = PeftModel.from_pretrained(model, str(adapter_folder)).merge_and_unload()
        merged.save_pretrained(str(target), safe_serialization=True)


def _finish_files(folder: Path) -> None:
    """Readable by whoever receives the folder (safetensors writes 0600), and on disk."""
    for path in folder.iterdir():
        if path.is_file():
            os.chmod(path, 0o644)
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())


def export_version(
    version: Version,
    out: Path,
    checkpoint: Checkpoint | None = None,
    merge: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write the export of `version` (or one checkpoint) to `out`; return `out`.

    Raises `ExportError` for unusable input, `ExportFailed` when writing failed part way;
    either way nothing is left behind (the temporary folder is removed first).
    """
    say = log or (lambda _text: None)
    out = Path(out)
    check_destination(out)
    source = _source(version, checkpoint)
    try:
        config = read_json_object(source / ADAPTER_CONFIG)
    except ReadError as exc:
        raise ExportError(f"{source.name}/{ADAPTER_CONFIG}: {exc}") from None
    base = base_location(version, config)
    from . import hf_env

    hf_env.configure_environment(offline=os.path.isdir(base))  # before the first HF import
    if merge:
        hf_env.quiet_libraries()
    parent = out.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=parent))
    try:
        if merge:
            adapter_dir = work / ".adapter"
            adapter_dir.mkdir()
            _write_adapter(source, adapter_dir, base)
            say(f"merging the adapter into {base}")
            _merge(adapter_dir, work, base)
            shutil.rmtree(adapter_dir)
        else:
            _write_adapter(source, work, base)
        say("writing the tokenizer and the model card")
        _write_tokenizer(version, source, work, base)
        (work / "README.md").write_text(
            model_card(version, checkpoint, base, merge), encoding="utf-8"
        )
        _finish_files(work)
        if os.path.lexists(out):
            check_destination(out)  # still empty: replace the empty folder
            out.rmdir()
        os.rename(work, out)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)
        if isinstance(exc, ExportError | KeyboardInterrupt | SystemExit):
            raise
        from .metadata import describe_error

        raise ExportFailed(f"export failed: {describe_error(exc)}; nothing was left") from exc
    os.chmod(out, 0o755)
    return out
