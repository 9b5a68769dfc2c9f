"""What the in-kernel worker logs, kept for ``%harvest worker log`` instead of printed.

The worker runs on a thread of its own. Left to Python's default handling, its warnings
go to stderr, and a kernel shows stderr under whichever cell happens to run next — one
about another run, or none at all. While the in-kernel worker runs, the
``harvest_studio.worker`` logger writes here (a bounded ring) and not to stderr."""

from __future__ import annotations

import collections
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from ..commands.render import fmt_time, table

WORKER_LOGGER = "harvest_studio.worker"
KEEP = 500
"""records kept (the oldest go first)"""


@dataclass(frozen=True)
class LogRecord:
    at: datetime
    level: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "level": self.level, "message": self.message}


class WorkerLog(logging.Handler):
    """The in-kernel worker's log records (INFO and up), newest last."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.records: collections.deque[LogRecord] = collections.deque(maxlen=KEEP)
        self._saved: tuple[int, bool] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in a log call must not break the worker
            message = str(record.msg)
        self.records.append(LogRecord(datetime.fromtimestamp(record.created, UTC),
                                      record.levelname, message))

    def attach(self) -> None:
        """Take the worker's records (and keep them off stderr)."""
        logger = logging.getLogger(WORKER_LOGGER)
        if self not in logger.handlers:
            self._saved = (logger.level, logger.propagate)
            logger.addHandler(self)
            logger.setLevel(logging.INFO)
            logger.propagate = False

    def detach(self) -> None:
        logger = logging.getLogger(WORKER_LOGGER)
        if self in logger.handlers:
            logger.removeHandler(self)
            if self._saved is not None:
                logger.setLevel(self._saved[0])
                logger.propagate = self._saved[1]

    @property
    def warnings(self) -> int:
        return sum(r.level in ("WARNING", "ERROR", "CRITICAL") for r in self.records)

    def tail(self, limit: int = 50) -> list[LogRecord]:
        return list(self.records)[-limit:]


def render_worker_log(records: list[LogRecord]) -> str:
    """``%harvest worker log``: one line per record, oldest first."""
    if not records:
        return "the in-kernel worker has logged nothing"
    rows = [(fmt_time(r.at), r.level, r.message) for r in records]
    return table(["TIME", "LEVEL", "MESSAGE"], rows)
