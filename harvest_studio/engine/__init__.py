"""Engine."""
from __future__ import annotations

from ._worker_all import Worker, WorkerOptions

__all__ = ["Worker", "WorkerOptions"]
