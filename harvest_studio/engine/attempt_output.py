"""What an activity attempt prints or logs, kept with the attempt.

While a worker runs, ``sys.stdout`` and ``sys.stderr`` are wrapped, and while attempts run
a handler sits on the root logger; text written from inside an attempt (its coroutine, or
its thread: the attempt's context is copied there) goes to that attempt's
:class:`AttemptOutput`, which keeps the last ``limit`` characters. Threads the activity
starts itself (``run_in_executor`` included) do not carry the attempt along. Everything
else passes through untouched. A worker inside a notebook kernel does not echo it (thread
output would land under whichever cell runs next); a worker in a terminal echoes it as
before.
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
        """The kept text, safe to store: a NUL or an unpaired surrogate (which PostgreSQL's
        text refuses) is written as an escape."""
        with self._lock:
            self._trim()
            whole = "".join(self._parts)
        return whole.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()

    def __enter__(self) -> AttemptOutput:
        self._token = _current.set(self)
        _attempts_started()
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
        _attempts_ended()


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
    """Log records emitted inside an attempt, added to its output. It sits on the root
    logger only while attempts run; a record that then had no other handler goes to
    ``logging.lastResort`` as it would have (unless the worker does not echo)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            capture = _current.get()
            if capture is not None:
                capture.add(self.format(record) + "\n")
            last = logging.lastResort
            if (capture is None or capture.echo) and last is not None \
                    and record.levelno >= last.level and _only_handler(record.name):
                last.handle(record)
        except Exception:
            self.handleError(record)


def _only_handler(name: str) -> bool:
    """Whether this handler is the only one a record of logger ``name`` reaches."""
    logger: logging.Logger | None = logging.getLogger(name)
    while logger is not None:
        if any(h is not _handler for h in logger.handlers):
            return False
        if not logger.propagate:
            return True
        logger = logger.parent
    return True


_users = 0
_running = 0  # attempts capturing now (the log handler is on the root logger meanwhile)
_guard = threading.Lock()
_handler = _Handler()


def _attempts_started() -> None:
    global _running
    with _guard:
        _running += 1
        if _running == 1:
            logging.getLogger().addHandler(_handler)


def _attempts_ended() -> None:
    global _running
    with _guard:
        _running = max(_running - 1, 0)
        if _running == 0:
            logging.getLogger().removeHandler(_handler)


def _wrap(stream: TextIO | None) -> TextIO | None:
    if stream is None or isinstance(stream, _Stream):
        return stream
    return _Stream(stream)  # type: ignore[return-value]


def install() -> None:
    """Start routing attempt output (one call per worker starting; see
    :func:`uninstall`). A stream replaced since an earlier call is wrapped again."""
    global _users
    with _guard:
        _users += 1
        sys.stdout = _wrap(sys.stdout)  # type: ignore[assignment]
        sys.stderr = _wrap(sys.stderr)  # type: ignore[assignment]


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
