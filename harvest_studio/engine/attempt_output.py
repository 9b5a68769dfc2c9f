"""What an activity attempt prints or logs, kept with the attempt.

While a worker runs, ``sys.stdout`` and ``sys.stderr`` are wrapped and a handler sits on
the root logger; text written from inside an attempt (its coroutine, or its thread: the
attempt's context is copied there) goes to that attempt's :class:`AttemptOutput`, which
keeps the last ``limit`` characters. Everything else passes through untouched. A worker
inside a notebook kernel does not echo it (thread output would land under whichever cell
runs next); a worker in a terminal echoes it as before.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import threading
from typing import Any, TextIO

LIMIT = 64 * 1024  # characters kept per attempt (the last ones)

_current: contextvars.ContextVar[AttemptOutput | None] = contextvars.ContextVar(
    "harvest_attempt_output", default=None
)


class AttemptOutput:
    """The bounded text one attempt wrote; ``dropped`` counts characters cut from the front."""

    def __init__(self, echo: bool, limit: int = LIMIT) -> None:
        self.echo = echo
        self.limit = limit
        self.dropped = 0
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        if not text:
            return
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            if self._size > self.limit * 2:  # trim now and then, not on every write
                self._trim()

    def _trim(self) -> None:
        whole = "".join(self._parts)
        cut = max(len(whole) - self.limit, 0)
        self.dropped += cut
        self._parts = [whole[cut:]]
        self._size = len(whole) - cut

    def text(self) -> str:
        with self._lock:
            self._trim()
            return "".join(self._parts)

    def __enter__(self) -> AttemptOutput:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)


class _Stream:
    """Stands in for ``sys.stdout``/``sys.stderr``: an attempt's writes go to its output."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        capture = _current.get()
        if capture is None:
            return self.inner.write(text)
        capture.add(text)
        if capture.echo:
            self.inner.write(text)
        return len(text)

    def flush(self) -> None:
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class _Handler(logging.Handler):
    """Log records emitted inside an attempt, added to its output."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        capture = _current.get()
        if capture is not None:
            capture.add(self.format(record) + "\n")


_users = 0
_guard = threading.Lock()
_handler = _Handler()


def install() -> None:
    """Start routing attempt output (one call per running worker; see :func:`uninstall`)."""
    global _users
    with _guard:
        _users += 1
        if _users > 1:
            return
        if not isinstance(sys.stdout, _Stream):
            sys.stdout = _Stream(sys.stdout)
        if not isinstance(sys.stderr, _Stream):
            sys.stderr = _Stream(sys.stderr)
        logging.getLogger().addHandler(_handler)


def uninstall() -> None:
    """Undo :func:`install` once the last worker stopped (streams replaced since by someone
    else are left alone)."""
    global _users
    with _guard:
        _users = max(_users - 1, 0)
        if _users:
            return
        if isinstance(sys.stdout, _Stream):
            sys.stdout = sys.stdout.inner
        if isinstance(sys.stderr, _Stream):
            sys.stderr = sys.stderr.inner
        logging.getLogger().removeHandler(_handler)
