"""The engine: runs workflow and activity code against the store.

``worker/`` claims tasks and writes their outcomes; ``replay`` re-executes workflow code
against its recorded history on a ``deterministic_loop``; ``workflow_context`` and
``activity_context`` are what user code sees. Imports only ``model`` and ``store``.
"""

from __future__ import annotations

from .worker import Worker, WorkerOptions

__all__ = ["Worker", "WorkerOptions"]
