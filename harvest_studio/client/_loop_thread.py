"""A private event loop on a daemon thread, so sync callers (scripts, notebooks whose own
loop is already running) can drive async code."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from ..model.errors import UsageError

T = TypeVar("T")
_CLEANUP_SECONDS = 10.0


class ClientClosedError(UsageError):
    """A call through a client (or a handle of one) after the client was closed."""

    code = "client_closed"


class LoopThread:
    def __init__(self, name: str = "harvest-client") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("cannot block on the client loop from inside it")
        if not self._thread.is_alive():
            coro.close()  # never awaited: say so at once instead of waiting for ever
            raise ClientClosedError("this client is closed: connect again (hs.connect())")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except KeyboardInterrupt:
            # Ctrl-C here: stop the coroutine too, and let it clean up (a half-written
            # export is removed, a transaction rolled back) before returning
            if not future.done():
                future.cancel()
                concurrent.futures.wait([future], timeout=_CLEANUP_SECONDS)
            raise

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
