"""Every process of a distributed run stops after the same step.

A stop (Ctrl+C, `ftui cancel`, the app) usually reaches one rank, or reaches them at
different steps; a rank that leaves the training loop alone leaves the others waiting in
their next all-reduce forever. So at every step end each rank contributes "was I asked
to stop" to a MAX all-reduce, and all of them act on the same answer.

The reduction runs on a gloo group over CPU tensors and asynchronously: the one started at
step k is read at step k+1 (by then every rank has started it, so the wait is short), so
no step waits on the network and a CUDA stream is never synchronised. The price is that
a stop takes effect one step later.
"""

from __future__ import annotations

from typing import Any


class StopAgreement:
    """`agree(local)` -> whether any rank had asked to stop as of the previous step."""

    def __init__(self) -> None:
        import torch.distributed as dist

        self._dist = dist
        self._group = dist.new_group(backend="gloo")
        self._pending: tuple[Any, Any] | None = None

    def __call__(self, local: bool) -> bool:
        import torch

        agreed = False
        if self._pending is not None:
            work, flag = self._pending
            work.wait()
            agreed = bool(flag.item())
        flag = torch.tensor([1 if local else 0], dtype=torch.int32)
        work = self._dist.all_reduce(
            flag, op=self._dist.ReduceOp.MAX, group=self._group, async_op=True
        )
        self._pending = (work, flag)
        return agreed

    def close(self) -> None:
        """Wait for the last reduction (every rank started it) before the group goes."""
        if self._pending is not None:
            self._pending[0].wait()
            self._pending = None


def make_agreement(world: int) -> StopAgreement | None:
    """An agreement when this process is one of several in an initialised process group."""
    if world <= 1:
        return None
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None
    return StopAgreement()
