"""Thread workers that raise, and the one handler that reports their failures.

Workers compute and post messages with their results; when one raises, Textual marks it
`ERROR` and posts `Worker.StateChanged` to the node that started it (the message does not
bubble). `WorkerFailures` is the one handler for that message, mixed into every node that
starts workers: it notifies a one-line reason and calls `worker_failed` so the node can
also show the failure in place (the compare pane) or end what depended on the worker.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from textual.dom import DOMNode
from textual.worker import Worker, WorkerState

from ftui.store import one_line

# Errors whose `str()` is already a one-line reason written for users.
_PLAIN_ERRORS: tuple[type[BaseException], ...] = ()


def _plain_errors() -> tuple[type[BaseException], ...]:
    global _PLAIN_ERRORS
    if not _PLAIN_ERRORS:
        from ftui.store import Refused, RootError, WriteError
        from ftui.store.jsonio import ReadError

        _PLAIN_ERRORS = (Refused, RootError, WriteError, ReadError)
    return _PLAIN_ERRORS


def reason_of(error: BaseException | None) -> str:
    """A one-line reason for an exception (its type named when it is not ours)."""
    if error is None:
        return "unknown error"
    if isinstance(error, _plain_errors()):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return f"{type(error).__name__}: {error}"


def failure_text(worker: Worker[Any]) -> str:
    """What a failed worker tells the user: `refused to delete X: …`, `could not read X: …`."""
    from ftui.store import Refused

    what = worker.description or worker.name or "work"
    verb = "refused to" if isinstance(worker.error, Refused) else "could not"
    return one_line(f"{verb} {what}: {reason_of(worker.error)}", 400)


def start(
    node: DOMNode,
    function: Callable[..., Any],
    *args: Any,
    what: str,
    group: str,
    exclusive: bool = True,
) -> Worker[Any]:
    """Run `function(*args)` in a thread worker on `node`; `what` names it in errors
    (a verb phrase: "read v_1", "follow the run")."""
    return node.run_worker(
        partial(function, *args),
        name=group,
        group=group,
        description=what,
        thread=True,
        exclusive=exclusive,
        exit_on_error=False,
    )


class WorkerFailures:
    """Mixin for an App or Screen: the one `Worker.StateChanged` handler (found by its
    name, which Textual looks up along the class's MRO, so a plain mixin works)."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is not WorkerState.ERROR:
            return
        text = failure_text(event.worker)
        node = self if isinstance(self, DOMNode) else None
        if node is not None:
            node.app.notify(text, severity="error", markup=False)
        self.worker_failed(event.worker, text)

    def worker_failed(self, worker: Worker[Any], text: str) -> None:
        """Override to react in place; `text` has already been notified."""
