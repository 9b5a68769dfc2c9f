"""Tuning knobs of a worker."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class WorkerOptions:
    """Tuning knobs. Defaults suit production; tests shorten the intervals."""

    max_concurrent_tasks: int = 32
    lease_seconds: float = 30.0
    poll_interval: float = 1.0
    maintenance_interval: float = 1.0
    max_crash_strikes: int = 3
    blocked_backoff: float = 1.0
    blocked_backoff_max: float = 60.0
    cache_size: int = 2000
    drain_timeout: float = 30.0
    heartbeat_flush_interval: float = 1.0
    run_scheduler: bool = True
    """decide due schedules (every worker may: they share the work safely)"""
    capture_output: bool = True
    """keep what each activity attempt prints or logs with the attempt (bounded)"""
    echo_output: bool = True
    """also write it where it would have gone (off in a notebook kernel)"""
    on_run_end: list[Callable[[Any], None]] = field(default_factory=list)
    """called with a :class:`~harvest_studio.RunEnded` after this worker commits a run's
    end (on a thread of their own; an exception is logged, never raised)"""
    queue_depth_interval: float = 10.0
    """how often to count the queues for the ``harvest.queue.depth`` metric (only while
    an OpenTelemetry SDK collects metrics)"""
    webhook_backoff: float = 5.0
    """seconds before a failed webhook delivery's first retry (doubling, at most 8 tries)"""
    slas: dict[str, float] = field(default_factory=dict)
    """workflow type -> seconds: a run still running that long after its start is an SLA
    miss, handed once (whichever worker notices) to ``on_sla_missed``"""
    on_sla_missed: list[Callable[[Any], None]] = field(default_factory=list)
    """called with a :class:`~harvest_studio.SlaMissed` (on a thread of their own)"""
