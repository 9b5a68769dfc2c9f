"""The worker, in parts: a claimer, a decision loop, an activity executor, a query answerer
and a sweeper, sharing one ``WorkerCore``; ``Worker`` puts them together."""

from __future__ import annotations

from .options import WorkerOptions
from .worker import Worker

__all__ = ["Worker", "WorkerOptions"]
