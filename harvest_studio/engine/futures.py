"""The futures workflow code awaits: a command's result (decoded to its declared type), an
activity's (whose ``cancel()`` cancels the activity), and a child run's handle."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any

from ..model.errors import PayloadError
from ..model.events import ChildWorkflowCancelRequested, Event, HistoryEvent
from ..model.payloads import decode
from .history_rules import InstanceClosedError


class ResultFuture(asyncio.Future[Any]):
    """The future of a command's result; ``result_type`` (the activity's or child
    workflow's return annotation) is what the result is decoded to."""

    result_type: Any = None

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)

    def settle(self, value: Any) -> None:
        """Resolve with ``value`` decoded to ``result_type``, or with the
        :class:`PayloadError` of a value that does not fit it."""
        try:
            self.set_result(decode(value, self.result_type))
        except PayloadError as exc:
            self.set_exception(exc)


class ActivityFuture(ResultFuture):
    """An activity's result in workflow code. Cancelling it (``future.cancel()``, or
    cancelling the task that awaits it) also cancels the activity: the cancellation is
    recorded (``ActivityCancelRequested``), the activity's task is removed and a running
    attempt is told at its next heartbeat; the awaiting code gets ``CancelledError`` at
    once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_cancel: Callable[[], None]) -> None:
        super().__init__(loop)
        self._on_cancel = on_cancel

    def cancel(self, msg: Any | None = None) -> bool:
        if self.done():
            return False
        self._on_cancel()
        return super().cancel(msg)


class ChildHandle:
    """A started child run: ``await handle`` gives its result; :meth:`cancel` asks the
    child to cancel."""

    def __init__(
        self, workflow_id: str, run_id: str, future: asyncio.Future[Any],
        emit: Callable[[Event], HistoryEvent] | None = None, started_seq: int = 0,
    ) -> None:
        self.workflow_id = workflow_id
        self.run_id = run_id
        self._future = future
        self._emit = emit
        self._started_seq = started_seq

    def __await__(self) -> Generator[Any, None, Any]:
        return self._future.__await__()

    def done(self) -> bool:
        return self._future.done()

    def cancel(self, reason: str | None = None) -> bool:
        """Ask the child run to cancel (recorded as ``ChildWorkflowCancelRequested``; the
        child sees ``CancelRequested``). Its end still comes back: awaiting the handle
        raises :class:`~harvest_studio.ChildWorkflowError` with status ``CANCELLED`` (or
        gives its result, if it finished first). False if the child has already ended."""
        if self._future.done() or self._emit is None:
            return False
        try:
            self._emit(ChildWorkflowCancelRequested(
                started_seq=self._started_seq, run_id=self.run_id, reason=reason))
        except InstanceClosedError:  # this run has already completed
            return False
        return True
