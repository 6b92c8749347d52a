"""The ftui Textual app and `run_app`, the entry point `ftui [DIR]` calls.

Only what the first screen needs is imported up front (the browser); the run view, the
forms, help and the training events are imported where they are first used, so the
tree is on screen sooner (bench/bench_app.py measures it).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, on
from textual.app import App
from textual.binding import Binding
from textual.worker import Worker

from ftui.store import Status, safe_text
from ftui.store.naming import metadata_file

from .messages import RunEnded, RunEventMessage, RunLaunched, RunProgress
from .screens.browser import POLL_INTERVAL_S, BrowserScreen
from .typeahead import Typeahead
from .workers import WorkerFailures, start

if TYPE_CHECKING:
    from textual.command import Provider

    from ftui.train.events import Event
    from ftui.train.spec import RunSpec

    from .run_state import RunState
    from .screens.run import RunScreen
    from .selection import Selection


FIRST_FRAME_GRACE_S = 0.03


def actions_provider() -> type[Provider]:
    """The palette's provider of ftui's actions, imported when the palette first opens."""
    from .commands import ActionsProvider

    return ActionsProvider


class FtuiApp(WorkerFailures, App[int]):
    """Browse, train and compare LoRA versions under `root`."""

    CSS_PATH = "ftui.tcss"
    TITLE = "ftui"
    COMMANDS = App.COMMANDS | {actions_provider}
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+p", "command_palette", "Commands", show=False),
    ]

    def __init__(
        self, root: Path, *, poll_interval: float = POLL_INTERVAL_S, in_process: bool = False
    ) -> None:
        super().__init__()
        self.root = root
        self.poll_interval = poll_interval
        self.in_process = in_process  # train inside this process instead of detached
        self.run_state: RunState | None = None
        self.run_token = 0
        self.typeahead = Typeahead()
        self.first_frame_shown = False

    def get_default_screen(self) -> BrowserScreen:
        """The browser is the first screen (drawn in the app's first frame)."""
        return BrowserScreen(self.root, poll_interval=self.poll_interval)

    def on_ready(self) -> None:
        """Textual's Ready: the first frame is being drawn. Once it is out (and the
        terminal has had a moment to take it: Textual writes from a thread, which the
        scan would compete with for the GIL), the browser reads the rest of the folder
        and fills in the details (bench/bench_app.py)."""
        self.call_after_refresh(self.set_timer, FIRST_FRAME_GRACE_S, self._first_frame_out)

    def _first_frame_out(self) -> None:
        self.first_frame_shown = True
        if not gc.isenabled():  # `ftui` turned it off for start-up (cli.py)
            gc.freeze()  # what start-up made lives as long as the app: never scan it again
            gc.enable()
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen) and screen.is_mounted:
                screen.first_frame_out()

    async def on_event(self, event: events.Event) -> None:
        """Keys for a screen that is not ready yet wait for it (see typeahead.py)."""
        keys_for = self.screen if isinstance(event, events.Key) and self.screen_stack else None
        if keys_for is not None and self.typeahead.hold(keys_for, event):
            return
        await super().on_event(event)

    def release_typeahead(self) -> None:
        """The current screen is ready: it applies the keys typed before, in order; what
        it leaves (after it closed) goes on as ordinary key events."""
        keys = self.typeahead.release()
        apply = getattr(self.screen, "type_ahead", None)
        for key in apply(keys) if apply is not None else keys:
            self.post_message(key)

    @property
    def browser(self) -> BrowserScreen:
        for screen in self.screen_stack:
            if isinstance(screen, BrowserScreen):
                return screen
        raise LookupError("no browser screen")

    def key_rows(self) -> list[tuple[str, str]]:
        """Every active binding of the current screen as (keys, description)."""
        from .screens.help import key_label

        by_action: dict[str, tuple[list[str], str]] = {}
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.description:
                continue
            keys, _ = by_action.setdefault(binding.action, ([], binding.description))
            keys.append(key_label(key))
        return [(" ".join(keys), description) for keys, description in by_action.values()]

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if isinstance(self.screen, HelpScreen):
            return
        title = type(self.screen).__name__.removesuffix("Screen").lower()
        self.push_screen(HelpScreen(title, self.key_rows()))

    # ------------------------------------------------------------ training
    #
    # The app owns the run (not a screen), so its worker outlives the run view being
    # closed and reopened. The worker posts events; the handlers below fold them into
    # the RunState and pass them down to the run view if it is showing.

    def open_train_form(self, selection: Selection | None) -> None:
        """`t` (selection None): a new run from the defaults; `R`: from the selection."""
        from ftui.train.spec import RunSpec

        from .screens.train_form import TrainFormScreen

        if selection is None:
            form = TrainFormScreen(RunSpec.defaults(self.root), in_process=self.in_process)
        else:
            parent = self.retrain_spec(selection)
            if parent is None:
                return
            title = f"Retrain {selection.label} with changes"
            devices = None if self.in_process else parent_devices(selection)
            form = TrainFormScreen(
                parent, parent=parent, title=title, in_process=self.in_process, devices=devices
            )

        def submitted(spec: RunSpec | None) -> None:
            if spec is not None:
                self.start_run(spec, in_process=form.in_process, devices=form.devices)

        self.push_screen(form, submitted)

    def retrain_spec(self, selection: Selection) -> RunSpec | None:
        """The recorded settings of a version (fresh) or checkpoint (continued from it)."""
        from ftui.train.retrain import spec_for_retrain
        from ftui.train.spec import SpecError

        checkpoint = selection.checkpoint.name if selection.checkpoint else None
        try:
            return spec_for_retrain(
                self.root,
                selection.version.id,
                checkpoint,
                continue_training=checkpoint is not None,
                versions=[selection.version],  # already read: no rescan of the root
            )
        except SpecError as exc:
            self.notify(f"cannot retrain {selection.label}: {exc}", severity="error", markup=False)
            return None

    def retrain(self, selection: Selection) -> None:
        """`r`: the same settings again, in one key."""
        spec = self.retrain_spec(selection)
        if spec is not None:
            self.start_run(spec, devices=parent_devices(selection))

    def start_run(
        self, spec: RunSpec, in_process: bool | None = None, devices: list[int] | None = None
    ) -> None:
        """Start `spec`: as its own detached process (default; on `devices`, or the
        default device when None), or in a worker thread (on the default device)."""
        in_process = self.in_process if in_process is None else in_process
        if self.run_state is not None and self.run_state.active and not self.run_state.following:
            self.notify("a run is already in progress (w shows it)", severity="warning")
            return
        from .run_state import RunState

        self.stop_following()
        self.run_token += 1
        title = f"new run from {spec.parent}" if spec.parent else "new run"
        state = RunState(self.run_token, title, parent=spec.parent, following=not in_process)
        self.run_state = state
        self.show_run(state)
        if in_process:
            start(self, self.train, state, spec, what="train", group="train", exclusive=False)
        else:
            from . import detached

            start(self, detached.launch_and_follow, self, state, spec, self.root, devices,
                  what="start the run", group="train", exclusive=False)  # fmt: skip

    def resume(self, selection: Selection | None) -> None:
        """`C`: resume the selected interrupted, cancelled or failed run, detached."""
        if selection is None:
            return
        if self.run_state is not None and self.run_state.active and not self.run_state.following:
            self.notify("a run is already in progress (w shows it)", severity="warning")
            return
        from .run_state import RunState

        self.stop_following()
        self.run_token += 1
        version = selection.version
        state = RunState(self.run_token, f"resume {version.id}", following=True)
        state.version_id = version.id
        self.run_state = state
        self.show_run(state)
        from . import detached

        start(self, detached.resume_and_follow, self, state, self.root, version.id,
              what=f"resume {version.id}", group="train", exclusive=False)  # fmt: skip

    def confirm_cancel(self, version_id: str | None, state: RunState | None = None) -> None:
        """`x`: after a confirmation, stop a run after its current step (any process on
        this host; an in-process run through its stop event)."""
        if version_id is None and state is None:
            return
        from .screens.confirm import StrictConfirmScreen

        if isinstance(self.screen, StrictConfirmScreen):
            return
        label = safe_text(version_id or "the run")

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            if state is not None and not state.following:
                self.stop_run(state)
            elif version_id is not None:
                from . import detached

                start(self, detached.cancel, self, self.root, version_id,
                      what=f"cancel {version_id}", group="cancel", exclusive=False)  # fmt: skip

        body = Text(f"{label} stops after its current step; its checkpoints are kept.")
        self.push_screen(StrictConfirmScreen(f"Cancel {label}?", body), answered)

    @on(RunLaunched)
    def run_launched(self, message: RunLaunched) -> None:
        state = self.run_state
        if state is None or state.token != message.token:
            return
        state.version_id = message.version_id
        state.add_log(f"{message.version_id}: process {message.pid}, log {message.log}")
        state.add_log(message.note)
        view = self._run_view(message.token)
        if view is not None:
            view.redraw()

    def train(self, state: RunState, spec: RunSpec) -> None:
        """Calls the engine (the only place torch & co. get imported) and relays events."""
        from ftui.train.events import Progress

        token = state.token

        def on_event(event: Event) -> None:
            message = RunProgress if isinstance(event, Progress) else RunEventMessage
            self.post_message(message(token, event))

        if spec.needs_launcher:  # several processes: torchrun, rank 0's events relayed
            from ftui.train.launch import run_launched

            result = run_launched(spec, on_event, state.stop)
        else:  # may raise (an import): the failure handler ends the run
            from ftui.train.engine import run_training

            result = run_training(spec, on_event, state.stop, launch="in-process")
        self.post_message(RunEnded(token, result.status, result.version_id, result.error))

    def watch_run(self, selection: Selection | None) -> None:
        """`w`: the current run, else follow the selected running version's event log."""
        state = self.run_state
        if state is not None and (
            state.active or selection is None or selection.version.id == state.version_id
        ):
            self.show_run(state)
            return
        if selection is None or not selection.version.status.live:
            if state is not None:
                self.show_run(state)
            else:
                self.notify(
                    "no run in progress: select a running version to follow it", severity="warning"
                )
            return
        from .run_state import RunState

        self.run_token += 1
        version = selection.version
        state = RunState(
            self.run_token,
            version.id,
            following=True,
            version_id=version.id,
            parent=version.parent.version_id if version.parent else None,
        )
        self.run_state = state
        self.show_run(state)
        meta = version.metadata_path or metadata_file(self.root, version.id)
        from . import detached

        start(self, detached.follow, self, state, version.path, meta,
              what="follow the run", group="follow")  # fmt: skip

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        """A failed follow (or train) worker ends its run view's "active" state."""
        state = self.run_state
        if state is None or not state.active:
            return
        if worker.group in ("follow", "train") and state.following:  # (detached runs)
            self.post_message(RunEnded(state.token, None, state.version_id))
        elif worker.group == "train" and not state.following:
            self.post_message(RunEnded(state.token, Status.FAILED, None, text))

    def show_run(self, state: RunState) -> None:
        from .screens.run import RunScreen

        if isinstance(self.screen, RunScreen) and self.screen.state is state:
            return
        if isinstance(self.screen, RunScreen):
            self.pop_screen()
        self.push_screen(RunScreen(state))

    def stop_run(self, state: RunState) -> None:
        """Cancel our run cooperatively (after its current step), or stop following."""
        state.stop.set()
        if not state.following:
            state.add_log("cancelling after the current step…")
            self.notify("cancelling after the current step…", markup=False)

    def stop_following(self) -> None:
        if self.run_state is not None and self.run_state.following:
            self.run_state.stop.set()

    def _run_view(self, token: int) -> RunScreen | None:
        from .screens.run import RunScreen

        screen = self.screen
        if isinstance(screen, RunScreen) and screen.state.token == token:
            return screen
        return None

    @on(RunEventMessage)
    @on(RunProgress)
    def run_event(self, message: RunEventMessage | RunProgress) -> None:
        state = self.run_state
        if state is None or state.token != message.token:
            return
        was_active = state.active
        before = state.version_id
        state.apply(message.event)
        if state.version_id is not None and before is None and not state.following:
            # the new version exists now: show it in the tree (its parent opened), so
            # the browser never counts a run it hides in a collapsed row
            self.browser.select_version(state.version_id)
        view = self._run_view(message.token)
        if view is not None:
            view.show_event(message.event)
        if was_active and not state.active:
            self.run_finished(state)

    @on(RunEnded)
    def run_ended(self, message: RunEnded) -> None:
        state = self.run_state
        if state is None or state.token != message.token or not state.active:
            return
        if message.status is None:
            state.stopped_following = True
            state.add_log("stopped following (the run goes on)")
        else:
            state.finish(message.status, message.version_id, message.error)
        view = self._run_view(message.token)
        if view is not None:
            view.show_end()
        self.run_finished(state)

    def run_finished(self, state: RunState) -> None:
        """Tell the user, and select the new version in the tree (after a rescan)."""
        label = state.version_id or "the run"
        if state.status is Status.COMPLETED:
            self.notify(f"{label} completed", markup=False)
        elif state.status is Status.FAILED:
            self.notify(
                f"{label} failed: {state.error or 'unknown reason'}", severity="error", markup=False
            )
        elif state.status is Status.CANCELLED:
            self.notify(f"{label} cancelled", severity="warning", markup=False)
        elif state.status is Status.INTERRUPTED:
            self.notify(
                f"{label} interrupted: {state.error or 'its process is gone'}",
                severity="error",
                markup=False,
            )
        if state.version_id is not None:
            self.browser.select_version(state.version_id)
        else:
            self.browser.rescan()

    async def action_quit(self) -> None:
        """Quit. A detached run goes on; a run inside this process would end with the
        app, so that asks first (and then cancels it: it saves what it has)."""
        state = self.run_state
        if state is None or not state.active or state.following:
            self.stop_following()
            self.exit(0)
            return
        from .screens.confirm import StrictConfirmScreen

        if isinstance(self.screen, StrictConfirmScreen):
            return

        def answer(yes: bool | None) -> None:
            if yes:
                state.stop.set()  # the engine saves what it has and marks it cancelled
                self.exit(0)

        body = Text("It trains inside this app: quitting cancels it after its current step.")
        label = safe_text(state.version_id or state.title)
        self.push_screen(
            StrictConfirmScreen(f"A run is in progress ({label}). Quit?", body), answer
        )


def parent_devices(selection: Selection) -> list[int] | None:
    """The GPUs the selected version trained on (its retrain uses them again)."""
    from ftui.runs.launch import recorded_devices

    return recorded_devices(selection.version.metadata)


def run_app(root: Path, in_process: bool = False) -> int:
    """Run the browser on `root` until the user quits; the exit code."""
    app = FtuiApp(root, in_process=in_process)
    result = app.run()
    if isinstance(result, int):
        return result
    return app.return_code or 0  # 1 when Textual stopped on an unhandled error
