"""`run_training`: one LoRA fine-tuning run, from a `RunSpec` to a stored version.

Phases: validate (cheap, no torch) -> prepare (imports, hardware, data, model, LoRA: a
failure here leaves no folder) -> claim a version and write its metadata -> train with
SFTTrainer, saving a checkpoint per epoch -> save the adapter, the loss history and the
final metrics. Whatever happens, the caller gets a `RunResult`; nothing is raised.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftui.store.digests import MANIFEST_KEY, manifest, verify
from ftui.store.jsonio import ReadError, read_json_object
from ftui.store.model import Status
from ftui.store.naming import version_folder
from ftui.store.text import plural
from ftui.store.writer import (
    WriteError,
    claim_version,
    create_metadata,
    metadata_path,
    update_metadata,
)

from . import hf_env
from .data import DataError, Examples, load_examples, load_hub_texts
from .events import Cancelled, Failed, Finished, Started
from .metadata import (
    KEPT_ON_ATTACH,
    DiskReserve,
    Heartbeat,
    describe_error,
    final_metrics,
    history_until,
    initial_metadata,
    mark_started,
    now_iso,
)
from .paths import local_path
from .sink import EventCallback, EventSink
from .spec import RunSpec, SpecError


@dataclass(frozen=True)
class RunResult:
    """How a run ended. `version_id`/`path` are None when it failed before claiming one."""

    version_id: str | None
    path: Path | None
    status: Status  # COMPLETED, FAILED or CANCELLED
    error: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Attach:
    """Train into a version that already exists instead of claiming a new one.

    `version_id`: a version a launcher claimed (`ftui train --detach`, the queue): its
    metadata exists, so even a failure while loading the model is recorded there.
    `resume_checkpoint`: continue that version from one of its checkpoints (`ftui resume`),
    whose digests were verified against the metadata before anything is unpickled.
    `launch`: how the process was started ("foreground", "detached", "in-process"),
    recorded so `ftui cancel` knows whether it may signal the pid.
    """

    version_id: str
    resume_checkpoint: str | None = None
    launch: str = "detached"


def run_training(
    spec: RunSpec,
    on_event: EventCallback | None = None,
    stop: threading.Event | None = None,
    attach: Attach | None = None,
    launch: str = "foreground",
) -> RunResult:
    """Train `spec` into a new version (or the one `attach` names); safe to call from a
    worker thread; never raises.

    `on_event` receives every event (also appended to `<version>/events.jsonl`); setting
    `stop` ends training after the current step and marks the version cancelled.
    """
    run = _Run(spec, on_event, stop, attach, attach.launch if attach else launch)
    try:
        return run.execute()
    except KeyboardInterrupt:  # Ctrl+C with no handler installed: a cancel, not a crash
        return run.cancelled(None, run.monitor.last_step if run.monitor else None)
    except Exception as exc:  # last line of defence
        return run.fail(describe_error(exc))
    finally:
        run.close()


# Runs in one process take turns. Loading a model and building a Trainer touch
# process-wide state (transformers' meta-device init, lazy modules, accelerate's
# AcceleratorState singleton, which a new Trainer resets under a running one): in-process
# runs cannot overlap safely. Separate processes (`ftui train` in two shells) run in parallel.
_run_lock = threading.Lock()


@dataclass
class _Prepared:
    spec: RunSpec
    examples: Examples
    tokenizer: Any
    model: Any
    hardware: Any
    args: dict[str, Any]
    lora: dict[str, Any]
    world: int = 1  # processes training together (torchrun / accelerate launch)


class _Run:
    def __init__(
        self,
        spec: RunSpec,
        on_event: EventCallback | None,
        stop: threading.Event | None,
        attach: Attach | None = None,
        launch: str = "foreground",
    ):
        self.spec = spec
        self.stop = stop
        self.attach = attach
        self.launch = launch
        rank, self.world = hf_env.distributed_rank()
        self.is_main = rank == 0
        self.sink = EventSink(on_event if self.is_main else None, write_file=self.is_main)
        self.route_logs = on_event is not None
        self.version_id: str | None = None
        self.path: Path | None = None
        self.heartbeat: Heartbeat | None = None
        self.monitor: Any = None
        self.reserve: DiskReserve | None = None
        self.model_name = spec.base_model  # as the user gave it: metadata's model_name
        self.checkpoint_files: dict[str, Any] = {}
        self.prior_epochs: list[dict[str, Any]] = []
        self.prior_performance: object = None  # a resumed run's, from its metadata
        if attach is not None:
            self._adopt(attach)

    # -- outcomes --------------------------------------------------------------------

    def _meta(self) -> Path | None:
        if self.version_id is None or not self.is_main:
            return None
        return metadata_path(Path(self.spec.root), self.version_id)

    def _update(self, change: dict[str, Any] | Any) -> dict[str, Any]:
        meta = self._meta()
        if meta is not None:
            return update_metadata(meta, change)
        return {}

    def _finish_run(self, record: dict[str, Any], status: Status, **extra: Any) -> None:
        record["status"] = status
        record.update(extra)
        run = record.setdefault("run", {})
        if isinstance(run, dict):
            run["finished_at"] = run["heartbeat_at"] = now_iso()

    def fail(self, error: str) -> RunResult:
        error = error.strip().splitlines()[0] if error.strip() else "unknown error"
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.reserve is not None:
            self.reserve.release()  # on a full disk, room for the final status
        with contextlib.suppress(Exception):
            self._update(lambda r: self._finish_run(r, Status.FAILED, error=error))
        # one Failed event, no log line saying the same: `ftui train` printed it twice
        self.sink.emit(Failed(version_id=self.version_id, error=error))
        return RunResult(self.version_id, self.path, Status.FAILED, error)

    def cancelled(self, trainer: Any | None, step: int | None) -> RunResult:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        epochs: list[dict[str, Any]] = []
        if trainer is not None:
            with contextlib.suppress(Exception):
                trainer.save_state()  # the loss history so far; checkpoints already saved stay
        if self.monitor is not None:
            epochs = self.monitor.epochs
        metrics = final_metrics(epochs, None)
        extra = self._performance()
        with contextlib.suppress(Exception):
            self._update(
                lambda r: self._finish_run(
                    r, Status.CANCELLED, metrics=metrics, epochs=epochs, **extra
                )
            )
        self.sink.log("cancelled" + (f" after step {step}" if step else ""), "warning")
        self.sink.emit(Cancelled(version_id=self.version_id, step=step))
        return RunResult(self.version_id, self.path, Status.CANCELLED, None, metrics)

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        if self.reserve is not None:
            self.reserve.release()
        self.sink.close()

    def _adopt(self, attach: Attach) -> None:
        """Take over a version a launcher claimed (or one being resumed): from now on
        every outcome, even a failure while loading, is recorded in its metadata."""
        root = Path(self.spec.root)
        self.version_id = attach.version_id
        self.path = version_folder(root, attach.version_id)
        if not self.is_main:
            if attach.resume_checkpoint:  # every rank loads the checkpoint: verify it too
                with contextlib.suppress(ReadError):  # (then it refuses to: no digests)
                    record = read_json_object(metadata_path(root, attach.version_id))
                    self.checkpoint_files = history_until(record, attach.resume_checkpoint)[1]
            return
        self.sink.attach(self.path)
        self.reserve = DiskReserve(self.path)
        record = self._update(lambda r: mark_started(r, self.launch))
        if attach.resume_checkpoint:
            self.prior_epochs, self.checkpoint_files = history_until(
                record, attach.resume_checkpoint
            )
            self.prior_performance = record.get("performance")
        self.heartbeat = Heartbeat(metadata_path(root, attach.version_id))
        self.heartbeat.start()

    # -- phases ----------------------------------------------------------------------

    def execute(self) -> RunResult:
        try:
            self.spec.validate()
        except SpecError as exc:
            return self.fail(str(exc))
        from .launch import under_launcher

        if self.spec.needs_launcher and not under_launcher():
            return self.fail(
                f"{self.spec.world_size} processes need a launcher: start the run with "
                "`ftui train` (it runs torchrun or accelerate launch) or launch.run_launched"
            )
        if not _run_lock.acquire(blocking=False):
            self.sink.log("another run in this process is training: waiting for it to finish")
            while not _run_lock.acquire(timeout=0.5):
                if self.stop is not None and self.stop.is_set():
                    return self.cancelled(None, None)
        try:
            return self._execute_locked()
        finally:
            _run_lock.release()

    def _execute_locked(self) -> RunResult:
        spec = self.spec.normalized()
        self.spec = spec
        model_local = local_path(spec.base_model) is not None
        data_local = all(local_path(v) is not None for v in (spec.data, spec.eval_data) if v)
        hf_env.configure_environment(offline=model_local and data_local)
        with hf_env.route_library_logs(self.sink.log if self.route_logs else None):
            try:
                prepared = self._prepare(spec)
            except Exception as exc:  # noqa: BLE001 - a bad adapter, a library error...
                if self.stop is not None and self.stop.is_set():
                    return self.cancelled(None, None)  # cancelled while loading: not a failure
                if isinstance(exc, SpecError | DataError):
                    return self.fail(str(exc))
                return self.fail(describe_error(exc))
            if self.stop is not None and self.stop.is_set():
                return self.cancelled(None, None)
            try:
                self._claim(prepared)
            except (WriteError, OSError) as exc:
                return self.fail(describe_error(exc))
            return self._train(prepared)

    def _prepare(self, spec: RunSpec) -> _Prepared:
        from . import modelprep

        self.sink.log(f"loading {spec.base_model}{modelprep.builtin_note(spec.base_model)}")
        _import_stack()
        hf_env.quiet_libraries()
        hf_env.refresh_log_filters()
        hardware = modelprep.resolve_hardware(spec)
        examples = load_examples(
            spec.data, spec.eval_data, spec.eval_split, spec.text_field, spec.seed, load_hub_texts
        )
        try:
            tokenizer = modelprep.load_tokenizer(spec.base_model)
            model = modelprep.load_base_model(spec.base_model, hardware)
        except Exception as exc:  # noqa: BLE001 - a corrupt folder, a bad config, no network
            raise SpecError(describe_error(exc, spec.base_model)) from None
        hf_env.refresh_log_filters()
        positions = modelprep.max_positions(model)
        max_length = min(spec.max_length, positions) if positions else spec.max_length
        if max_length < spec.max_length:
            self.sink.log(
                f"max_length {spec.max_length} > the model's {positions} positions: "
                f"using {positions}"
            )
        from transformers import set_seed

        set_seed(spec.seed)  # the LoRA matrices are initialised before the Trainer seeds
        if spec.continue_from_parent:
            adapter_dir = modelprep.parent_adapter_dir(spec)
            self.sink.log(f"continuing from the adapter in {adapter_dir}")
            peft_model = modelprep.wrap_continued(model, spec, adapter_dir)
        else:
            targets, fan_in_fan_out = modelprep.resolve_targets(model, spec.target_modules)
            peft_model = modelprep.wrap_fresh(model, spec, targets, fan_in_fan_out)
        peft_model.peft_config["default"].base_model_name_or_path = modelprep.recorded_base(
            spec.base_model
        )
        args = modelprep.trainer_arguments(
            spec, hardware, examples.num_train, bool(examples.eval), max_length, self.world
        )
        return _Prepared(
            spec,
            examples,
            tokenizer,
            peft_model,
            hardware,
            args,
            modelprep.lora_record(peft_model),
            self.world,
        )

    def _claim(self, prepared: _Prepared) -> None:
        """Claim the version (on the main process only) and write its first metadata."""
        root = Path(prepared.spec.root)
        if self.attach is not None:
            self._claim_attached(prepared, root)
            return
        version_id: str | None = None
        if self.is_main:
            version_id, path = claim_version(root)
            prepared.args["output_dir"] = str(path)
            try:
                record = initial_metadata(self.model_name, prepared, version_id)
                create_metadata(root, version_id, record)
            except BaseException:
                with contextlib.suppress(OSError):
                    path.rmdir()  # nothing was written into it: leave no half version
                raise
        if self.world > 1:
            version_id = _share_with_all_ranks(version_id, prepared.hardware.device == "cpu")
        assert version_id is not None
        path = version_folder(root, version_id)
        self.version_id, self.path = version_id, path
        prepared.args["output_dir"] = str(path)
        if self.is_main:
            self.sink.attach(path)
            self.reserve = DiskReserve(path)
            self.heartbeat = Heartbeat(metadata_path(root, version_id))
            self.heartbeat.start()

    def _claim_attached(self, prepared: _Prepared, root: Path) -> None:
        """The version exists: fill in its metadata (a resumed run keeps its history)."""
        assert self.attach is not None and self.path is not None
        prepared.args["output_dir"] = str(self.path)
        if self.world > 1:
            _share_with_all_ranks(self.attach.version_id, prepared.hardware.device == "cpu")
        if not self.is_main:
            return
        fresh = initial_metadata(self.model_name, prepared, self.attach.version_id)
        resuming = self.attach.resume_checkpoint

        def change(record: dict[str, Any]) -> None:
            keep = {k: record[k] for k in KEPT_ON_ATTACH if k in record}
            if resuming:  # its history goes on from the checkpoint (later epochs are redone)
                keep["epochs"] = list(self.prior_epochs)
                keep[MANIFEST_KEY] = dict(self.checkpoint_files)
                keep["metrics"] = final_metrics(self.prior_epochs, None)
            previous = record.get("run")
            old_run: dict[str, Any] = previous if isinstance(previous, dict) else {}
            record.update(fresh)
            record.update(keep)
            run = record["run"]
            for key in ("queued_at", "devices", "resumes"):
                if key in old_run:
                    run[key] = old_run[key]
            if resuming:
                run["started_at"] = old_run.get("started_at", run["started_at"])
                run.setdefault("resumes", []).append(
                    {"at": run["heartbeat_at"], "checkpoint": resuming}
                )
            run["launch"] = self.launch
            record.setdefault(MANIFEST_KEY, {})

        update_metadata(metadata_path(root, self.attach.version_id), change)

    def _train(self, prepared: _Prepared) -> RunResult:
        from .callbacks import RunMonitor, make_trainer_callback

        spec, examples = prepared.spec, prepared.examples
        self.sink.emit(
            Started(version_id=self.version_id or "", path=str(self.path), parent=spec.parent)
        )
        trainer = None
        try:
            self.monitor = RunMonitor(
                self.sink,
                self.stop,
                self._record_epochs,
                is_main=self.is_main,
                record_checkpoint=self._record_checkpoint,
            )
            self.monitor.epochs = list(self.prior_epochs)
            trainer = _build_trainer(prepared, make_trainer_callback(self.monitor))
            if self.is_main:
                self.monitor.meter = _metrics_meter(prepared, trainer, self.world)
            agreement = _stop_agreement(self.world)
            self.monitor.agree = agreement
            hf_env.refresh_log_filters()
            hw = prepared.hardware
            processes = ""
            if self.world > 1:
                batch = spec.batch_size * spec.grad_accum * self.world
                processes = f" x {self.world} processes (global batch {batch})"
            self.sink.log(
                f"training {examples.num_train} examples ({examples.num_eval} eval) for "
                f"{plural(spec.epochs, 'epoch')} on {hw.device} ({hw.precision}){processes}: "
                + spec.summary(max_length=prepared.args.get("max_length"))
            )
            output = trainer.train(resume_from_checkpoint=self._resume_path())
            if agreement is not None:
                agreement.close()
            if self.monitor.stopping or (self.stop is not None and self.stop.is_set()):
                return self.cancelled(trainer, self.monitor.stopped_at or self.monitor.last_step)
            return self._complete(trainer, output)
        except KeyboardInterrupt:
            return self.cancelled(trainer, self.monitor.last_step if self.monitor else None)
        except Exception as exc:  # noqa: BLE001 - out of memory, disk full, bad data...
            return self.fail(describe_error(exc, disk_full_file=self._newest_file()))

    def _performance(self) -> dict[str, Any]:
        """`{"performance": …}`: the run's throughput and peak GPU memory (see
        `MetricsMeter.summary`; a resumed run's covers every segment), for its final
        metadata; {} when nothing was timed."""
        from .metrics import combined_performance

        meter = self.monitor.meter if self.monitor is not None else None
        summary = meter.summary() if meter is not None else {}
        if self.prior_performance is not None:  # resumed: the segments before count too
            summary = combined_performance(self.prior_performance, summary)
        return {"performance": summary} if summary else {}

    def _newest_file(self) -> str | None:
        """The most recently written file of the version (what a full disk interrupted)."""
        if self.path is None:
            return None
        newest: tuple[float, str] | None = None
        with contextlib.suppress(OSError):
            for path in self.path.rglob("*"):
                if path.is_file() and path.suffix not in (".jsonl", ".log", ".lock"):
                    mtime = path.stat().st_mtime
                    if newest is None or mtime > newest[0]:
                        newest = (mtime, str(path))
        return newest[1] if newest else None

    def _resume_path(self) -> str | None:
        """The checkpoint to resume from, verified again right before the Trainer loads it."""
        if self.attach is None or not self.attach.resume_checkpoint or self.path is None:
            return None
        folder = self.path / self.attach.resume_checkpoint
        reason = verify(folder, self.checkpoint_files.get(self.attach.resume_checkpoint))
        if reason is not None:
            raise SpecError(f"{self.attach.resume_checkpoint}: {reason}; not resuming from it")
        self.sink.log(f"resuming from {self.attach.resume_checkpoint} (digests verified)")
        return str(folder)

    def _record_checkpoint(self, name: str, folder: Path) -> None:
        """A checkpoint was written completely: remember its files' sizes and digests."""
        self.checkpoint_files[name] = manifest(folder)

    def _record_epochs(self, epochs: list[dict[str, Any]]) -> None:
        files = dict(self.checkpoint_files)

        def change(record: dict[str, Any]) -> None:
            record["epochs"] = epochs
            record[MANIFEST_KEY] = files
            run = record.setdefault("run", {})
            if isinstance(run, dict):
                run["heartbeat_at"] = now_iso()

        self._update(change)

    def _complete(self, trainer: Any, output: Any) -> RunResult:
        assert self.path is not None and self.monitor is not None
        trainer.save_model(str(self.path))
        trainer.save_state()
        if self.reserve is not None:
            self.reserve.release()
        metrics = final_metrics(self.monitor.epochs, getattr(output, "metrics", None))
        if self.heartbeat is not None:
            self.heartbeat.stop()
        epochs = self.monitor.epochs
        extra = self._performance()
        self._update(
            lambda r: self._finish_run(
                r, Status.COMPLETED, metrics=metrics, epochs=epochs, error=None, **extra
            )
        )
        self.sink.log(f"completed {self.version_id}: " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in metrics.items()
            if v is not None
        ))  # fmt: skip
        if extra:
            from .metrics import performance_line

            self.sink.log(f"throughput: {performance_line(extra['performance'])}")
        self.sink.emit(Finished(version_id=self.version_id or "", metrics=metrics))
        return RunResult(self.version_id, self.path, Status.COMPLETED, None, metrics)


_import_lock = threading.Lock()


def _import_stack() -> None:
    """Import the HF stack once, under a lock: the libraries' lazy modules are not safe to
    resolve from two threads at once (two runs started together failed with ImportError)."""
    with _import_lock:
        import datasets  # noqa: F401
        import peft  # noqa: F401
        import torch  # noqa: F401
        from transformers import (  # noqa: F401
            AutoModelForCausalLM,
            AutoTokenizer,
            PrinterCallback,
            ProgressCallback,
            TrainerCallback,
        )
        from transformers.pytorch_utils import Conv1D  # noqa: F401
        from trl import SFTConfig, SFTTrainer  # noqa: F401


def _build_trainer(prepared: _Prepared, callback: Any) -> Any:
    from datasets import Dataset
    from transformers import PrinterCallback, ProgressCallback
    from trl import SFTConfig, SFTTrainer

    examples = prepared.examples
    train = Dataset.from_list([{"text": t} for t in examples.train])
    evaluation = Dataset.from_list([{"text": t} for t in examples.eval]) if examples.eval else None
    trainer = SFTTrainer(
        model=prepared.model,
        args=SFTConfig(**prepared.args),
        train_dataset=train,
        eval_dataset=evaluation,
        processing_class=prepared.tokenizer,
        callbacks=[callback],
    )
    # disable_tqdm swaps in a PrinterCallback that prints every log dict: events replace it.
    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    return trainer


def _stop_agreement(world: int) -> Any:
    from .dist_stop import make_agreement

    return make_agreement(world)


def _metrics_meter(prepared: _Prepared, trainer: Any, world: int) -> Any:
    """The sampler of step time, throughput and GPU memory for this run (see metrics.py)."""
    from .gpu import make_probe
    from .metrics import MetricsMeter

    spec = prepared.spec
    return MetricsMeter(
        samples_per_step=spec.batch_size * spec.grad_accum * max(world, 1),
        tokens_per_sample=_mean_tokens(trainer.train_dataset, prepared.args.get("max_length")),
        probe=make_probe(prepared.hardware.device),
    )


def _mean_tokens(dataset: Any, max_length: Any) -> float | None:
    """Mean tokens per training example, from the Trainer's tokenized dataset (read from
    its Arrow column once, so tokens/s costs nothing per step); None when not tokenized."""
    try:
        import pyarrow.compute as pc

        column = dataset.data.column("input_ids")
        lengths = pc.list_value_length(column)
        if isinstance(max_length, int) and max_length > 0:
            lengths = pc.min_element_wise(lengths, max_length)
        count = len(lengths)
        return float(pc.sum(lengths).as_py()) / count if count else None
    except Exception:  # noqa: BLE001 - another dataset type: tokens/s is simply not shown
        return None


def _share_with_all_ranks(version_id: str | None, cpu: bool) -> str:
    """Under torchrun/accelerate: rank 0 claimed the version; every rank learns its id."""
    import torch.distributed as dist
    from accelerate import PartialState

    PartialState(cpu=cpu)  # initialises the process group (the Trainer reuses this state)
    shared = [version_id]
    if dist.is_available() and dist.is_initialized():
        dist.broadcast_object_list(shared, src=0)
    if not shared[0]:
        raise WriteError("the main process could not claim a version")
    return str(shared[0])
