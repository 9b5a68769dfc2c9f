"""A deterministic asyncio event loop for workflow code.

Workflow coroutines run on this loop, never on the worker's: callbacks run strictly in
FIFO order, there is no clock and no I/O, so the same history always drives the same
interleaving. ``asyncio.gather``, ``asyncio.wait`` and tasks work; ``asyncio.sleep`` with a
delay does not (use ``ctx.sleep``).
"""

from __future__ import annotations

import asyncio
import asyncio.events as _events
import collections
import contextvars
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from ..model.errors import HarvestError


class WorkflowLoopError(HarvestError):
    code = "nondeterministic_call"


class DeterministicLoop(asyncio.AbstractEventLoop):
    def __init__(self) -> None:
        self._ready: collections.deque[asyncio.Handle] = collections.deque()
        self._closed = False
        self.unhandled: list[dict[str, Any]] = []
        self.tasks: set[asyncio.Task[Any]] = set()
        """unfinished tasks of this loop (``asyncio.all_tasks`` would walk every task of
        the process: thousands of cached instances)"""

    # -- what asyncio's futures and tasks call -------------------------------------------
    def call_soon(  # type: ignore[override]
        self,
        callback: Callable[..., object],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_later(  # type: ignore[override]
        self, delay: float, callback: Callable[..., object], *args: Any, **kw: Any
    ) -> Any:
        raise WorkflowLoopError(
            "workflow code cannot use loop timers (asyncio.sleep, wait_for with a timeout); "
            "use ctx.sleep() or ctx.wait_first() instead"
        )

    def call_at(  # type: ignore[override]
        self, when: float, callback: Callable[..., object], *args: Any, **kw: Any
    ) -> Any:
        return self.call_later(0, callback)

    def time(self) -> float:
        return 0.0

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.Future(loop=self)

    def create_task(  # type: ignore[override]
        self,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=self, name=name, context=context)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return True

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True
        self._ready.clear()

    def call_exception_handler(self, context: dict[str, Any]) -> None:
        self.unhandled.append(context)

    def default_exception_handler(self, context: dict[str, Any]) -> None:
        self.unhandled.append(context)

    def get_exception_handler(self) -> None:
        return None

    # -- driving ---------------------------------------------------------------------------
    def run_until_quiescent(self) -> None:
        """Run ready callbacks until none is left (all workflow tasks are blocked)."""
        outer = _events._get_running_loop()
        _events._set_running_loop(self)
        try:
            while self._ready:
                handle = self._ready.popleft()
                if not handle._cancelled:
                    handle._run()
        finally:
            _events._set_running_loop(outer)
