"""``queue list|pause|resume|limit`` and ``activity list|pause|resume|limit``: what the
queues hold and the limits every worker's claims obey.

Limit values arrive from the front ends as typed text (``"5"``, ``"0.5"``, ``"none"``) or
:data:`~harvest_studio.client.KEEP` (the flag was not given); :func:`parse_limits` checks
them all before anything touches the database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..client import KEEP, AsyncClient, FlowLimit, Keep
from ..model.errors import UsageError
from .results import FlowAction, LimitList, QueueList

# what a limit flag may be given as: text, a number from Python, None (lift it) or KEEP
LimitInput = str | float | Keep | None

LIMIT_FLAGS = ("--rate", "--burst", "--max-concurrent", "--max-workflows")
_OFF = ("none", "off")
_MAX_INT = 2**31 - 1  # max_concurrent is an SQL integer

# what each flag must be: the words of its error, and the check
_Bound = tuple[str, Callable[[float], bool]]
_BOUNDS: dict[str, _Bound] = {
    "--rate": ("a positive number", lambda v: v > 0),
    "--burst": ("a number >= 1", lambda v: v >= 1),
    "--max-concurrent": ("an integer >= 0", lambda v: 0 <= v <= _MAX_INT),
    "--max-workflows": ("an integer >= 0", lambda v: 0 <= v <= _MAX_INT),
}


def parse_limit_value(
    text: LimitInput, what: str, kind: type[float] | type[int] = float
) -> float | int | Keep | None:
    """One limit as typed: ``"none"`` or ``"off"`` lifts it (``None``), a number sets it,
    KEEP leaves it. ``what`` is the flag (``--rate``, ``--burst``, ``--max-concurrent``):
    it names the limit in the error and says what it must be (rates positive, bursts at
    least 1, counts at least 0); another name only needs a positive ``kind``."""
    if text is KEEP or text is None:
        return text
    if isinstance(text, str) and text.strip().lower() in _OFF:
        return None
    positive = "a positive integer" if kind is int else "a positive number"
    bound, ok = _BOUNDS.get(what, (positive, lambda v: v > 0))
    value: float | int | None = None
    if isinstance(text, str):
        try:
            value = kind(text.strip())
        except ValueError:
            value = None
    elif not isinstance(text, bool) and isinstance(text, int | float):
        value = text if kind is float or isinstance(text, int) else None
    if value is None or not math.isfinite(value) or not ok(value):
        raise UsageError(f"{what} must be {bound} or 'none', got {text!r}")
    return value


def parse_limits(
    rate: LimitInput = KEEP, burst: LimitInput = KEEP, max_concurrent: LimitInput = KEEP,
    max_workflows: LimitInput = KEEP, *, workflows: bool = True,
) -> dict[str, Any]:
    """The ``set_limits`` fields of a ``limit`` command, checked: at least one given
    (``workflows``: the scope takes ``--max-workflows``; an activity type does not)."""
    parsed = {
        "rate": parse_limit_value(rate, "--rate", float),
        "burst": parse_limit_value(burst, "--burst", float),
        "max_concurrent": parse_limit_value(max_concurrent, "--max-concurrent", int),
        "max_workflows": parse_limit_value(max_workflows, "--max-workflows", int),
    }
    if all(v is KEEP for v in parsed.values()):
        flags = LIMIT_FLAGS if workflows else LIMIT_FLAGS[:-1]
        raise UsageError(f"give at least one of {', '.join(flags)}")
    if parsed["max_workflows"] is KEEP:  # (only queues and workflow types take it)
        del parsed["max_workflows"]
    return parsed


# ---------------------------------------------------------------------------------------
# queues
# ---------------------------------------------------------------------------------------
async def queue_list(client: AsyncClient) -> QueueList:
    """Each queue with tasks or limits: ready, delayed and running tasks, its limits."""
    return QueueList(await client.queues())


async def queue_pause(client: AsyncClient, name: str) -> FlowAction:
    """Stop claims from a queue (running attempts finish; queries are still answered)."""
    return FlowAction("pause", "queue", name, await client.pause_queue(name))


async def queue_resume(client: AsyncClient, name: str) -> FlowAction:
    return FlowAction("resume", "queue", name, await client.resume_queue(name))


async def queue_limit(
    client: AsyncClient,
    name: str,
    *,
    rate: LimitInput = KEEP,
    burst: LimitInput = KEEP,
    max_concurrent: LimitInput = KEEP,
    max_workflows: LimitInput = KEEP,
) -> FlowAction:
    """Set or lift a queue's rate, burst, concurrency cap and cap on runs in progress
    (``max_workflows``); fields not given are kept."""
    fields = parse_limits(rate, burst, max_concurrent, max_workflows)
    return FlowAction("limit", "queue", name, await client.set_limits(queue=name, **fields))


# ---------------------------------------------------------------------------------------
# activity types
# ---------------------------------------------------------------------------------------
async def activity_list(client: AsyncClient) -> LimitList:
    """The limits on activity types (a queue's limits are in :func:`queue_list`)."""
    limits: list[FlowLimit] = await client.limits()
    return LimitList([lim for lim in limits if lim.scope == "activity"])


async def activity_pause(client: AsyncClient, name: str) -> FlowAction:
    """Stop starting attempts of an activity type, in every queue."""
    return FlowAction("pause", "activity", name, await client.pause_activity(name))


async def activity_resume(client: AsyncClient, name: str) -> FlowAction:
    return FlowAction("resume", "activity", name, await client.resume_activity(name))


async def activity_limit(
    client: AsyncClient,
    name: str,
    *,
    rate: LimitInput = KEEP,
    burst: LimitInput = KEEP,
    max_concurrent: LimitInput = KEEP,
) -> FlowAction:
    """Set or lift an activity type's rate, burst and concurrency cap; fields not given
    are kept."""
    fields = parse_limits(rate, burst, max_concurrent, workflows=False)
    return FlowAction("limit", "activity", name, await client.set_limits(activity=name, **fields))


# ---------------------------------------------------------------------------------------
# workflow types
# ---------------------------------------------------------------------------------------
async def workflow_list(client: AsyncClient) -> LimitList:
    """The limits on workflow types (runs in progress at once)."""
    limits: list[FlowLimit] = await client.limits()
    return LimitList([lim for lim in limits if lim.scope == "workflow"])


async def workflow_limit(
    client: AsyncClient, name: str, *, max_workflows: LimitInput = KEEP
) -> FlowAction:
    """Set or lift how many runs of a workflow type may be in progress at once."""
    value = parse_limit_value(max_workflows, "--max-workflows", int)
    if value is KEEP:
        raise UsageError("give --max-workflows N or none")
    count = None if value is None else int(value)
    return FlowAction("limit", "workflow", name,
                      await client.set_limits(workflow=name, max_workflows=count))
