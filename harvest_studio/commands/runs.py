"""Starting runs and reading them: start, signal-with-start, list, show, history, result,
rerun, child runs and continue-as-new chains."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..client import AsyncClient, RunInfo, RunPage
from ..model.durations import Duration
from ..model.errors import RunNotFoundError, UsageError, WorkflowFailedError
from ..model.events import ChildWorkflowStarted
from .inputs import (
    SIGNAL_WITH_KEY,
    SIGNAL_WITH_TERMINATE,
    _statuses,
    check_filter,
    check_signal,
    check_start_options,
    parse_time,
)
from .results import RunChain, RunHistory, RunResult, RunTree, StartedRun


async def start(
    client: AsyncClient,
    workflow: str,
    args: Sequence[Any] = (),
    *,
    id: str | None = None,
    id_reuse_policy: str = "allow_duplicate",
    id_conflict_policy: str = "fail",
    idempotency_key: str | None = None,
    execution_timeout: Duration | None = None,
    queue: str | None = None,
    force: bool = False,
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
    priority: int | None = None,
    fairness_key: str | None = None,
) -> StartedRun:
    """Start a run of the workflow type named ``workflow`` with ``args`` (JSON values).

    Everything is checked before anything is written: an unknown type raises
    :class:`~harvest_studio.UnknownWorkflowError` (unless ``force``), bad arguments
    :class:`~harvest_studio.PayloadError`, a taken id
    :class:`~harvest_studio.WorkflowAlreadyStartedError`.

    While a run of ``id`` is open, ``id_conflict_policy="use_existing"`` returns it
    (``started`` False) and ``id_reuse_policy="terminate_if_running"`` terminates it and
    starts anew (``replaced_run_id`` names it).
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    check_start_options(search_attributes, memo, start_delay, priority, fairness_key)
    before = await _open_run(client, id) if id is not None else None
    handle = await client.start(
        workflow,
        *args,
        id=id,
        id_reuse_policy=id_reuse_policy,
        id_conflict_policy=id_conflict_policy,
        idempotency_key=idempotency_key,
        execution_timeout=execution_timeout,
        queue=queue,
        force=force,
        search_attributes=search_attributes,
        memo=memo,
        start_delay=start_delay,
        priority=priority,
        fairness_key=fairness_key,
    )
    assert handle.run_id is not None
    started = before is None or handle.run_id != before.run_id
    workflow_type = workflow if started or before is None else before.workflow_type
    replaced = (
        before.run_id
        if before is not None and started and id_reuse_policy == "terminate_if_running"
        else None
    )
    reused = None
    if not started:
        reused = "use_existing" if id_conflict_policy == "use_existing" else "idempotency_key"
    return StartedRun(
        handle.workflow_id, handle.run_id, workflow_type, client.namespace,
        started=started, replaced_run_id=replaced, reused=reused,
    )


async def _open_run(client: AsyncClient, ref: str) -> RunInfo | None:
    try:
        info = await client.describe(ref)
    except RunNotFoundError:
        return None
    return info if info.status == "RUNNING" else None


async def signal_with_start(
    client: AsyncClient,
    workflow: str,
    args: Sequence[Any] = (),
    *,
    id: str,
    signal: str,
    signal_payload: Any = None,
    id_reuse_policy: str = "allow_duplicate",
    idempotency_key: str | None = None,
    execution_timeout: Duration | None = None,
    queue: str | None = None,
    force: bool = False,
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
    priority: int | None = None,
    fairness_key: str | None = None,
) -> StartedRun:
    """Signal the open run of workflow id ``id``, or start ``workflow`` with ``args`` and the
    signal delivered before its code first runs.

    ``started`` in the result says which happened (judged against the run that was open
    just before the call). Input is checked before anything is written, as for ``start``.
    An ``idempotency_key`` is refused (:data:`SIGNAL_WITH_KEY`), and so is
    ``id_reuse_policy="terminate_if_running"`` (:data:`SIGNAL_WITH_TERMINATE`).
    """
    if not workflow:
        raise UsageError("a workflow name is required")
    if not id:
        raise UsageError("signal-with-start needs a workflow id")
    if idempotency_key is not None:
        raise UsageError(SIGNAL_WITH_KEY)
    if id_reuse_policy == "terminate_if_running":
        raise UsageError(SIGNAL_WITH_TERMINATE)
    check_signal(signal, signal_payload)
    check_start_options(search_attributes, memo, start_delay, priority, fairness_key)
    try:
        before = await client.describe(id)
    except RunNotFoundError:
        before = None
    open_run = before.run_id if before is not None and before.status == "RUNNING" else None
    handle = await client.signal_with_start(
        workflow,
        *args,
        id=id,
        signal=signal,
        signal_payload=signal_payload,
        id_reuse_policy=id_reuse_policy,
        idempotency_key=idempotency_key,
        execution_timeout=execution_timeout,
        queue=queue,
        force=force,
        search_attributes=search_attributes,
        memo=memo,
        start_delay=start_delay,
        priority=priority,
        fairness_key=fairness_key,
    )
    assert handle.run_id is not None
    started = handle.run_id != open_run
    workflow_type = workflow
    if not started and before is not None:
        workflow_type = before.workflow_type
    return StartedRun(
        handle.workflow_id, handle.run_id, workflow_type, client.namespace, signal, started
    )


async def list_runs(
    client: AsyncClient,
    *,
    workflow_type: str | None = None,
    status: str | Sequence[str] | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    workflow_id: str | None = None,
    blocked: bool | None = None,
    query: str | None = None,
    limit: int = 50,
    page_token: str | None = None,
) -> RunPage:
    """Runs, newest first, filtered. ``status`` may be a list or comma-separated text (any
    case); ``since``/``until`` bound the start time (ISO-8601, or an age such as ``"2h"``);
    ``query`` is a filter (:func:`check_filter`), checked before the database is read."""
    if query is not None:
        check_filter(query)
    statuses = _statuses(status)
    started_after = parse_time(since) if since is not None else None
    started_before = parse_time(until) if until is not None else None
    return await client.list(
        workflow_type=workflow_type or None,
        status=statuses,
        started_after=started_after,
        started_before=started_before,
        workflow_id=workflow_id or None,
        blocked=blocked,
        query=query,
        limit=limit,
        page_token=page_token or None,
    )


async def show(client: AsyncClient, ref: str) -> RunInfo:
    """One run by run id or workflow id (the open, else the newest, run of that id)."""
    return await client.describe(ref)


async def history(
    client: AsyncClient, ref: str, *, after_seq: int = 0, limit: int | None = None
) -> RunHistory:
    """Events of a run with ``seq > after_seq``, at most ``limit`` of them."""
    if after_seq < 0:
        raise UsageError("after_seq must be >= 0")
    if limit is not None and limit < 1:
        raise UsageError("limit must be >= 1")
    info = await client.describe(ref)
    events = await client.history(info.run_id, after_seq=after_seq, limit=limit)
    more = limit is not None and len(events) == limit and events[-1].seq < info.events
    return RunHistory(
        run_id=info.run_id,
        workflow_id=info.workflow_id,
        workflow_type=info.workflow_type,
        status=info.status,
        events=events,
        next_after_seq=events[-1].seq if more else None,
    )


async def result(client: AsyncClient, ref: str, timeout: float | None = None) -> RunResult:
    """Wait for a run to end and say how it ended (a failed run is a result, not an error).

    Raises :class:`~harvest_studio.RunTimeoutError` if it is still running after ``timeout``
    seconds.
    """
    if timeout is not None and timeout < 0:
        raise UsageError("timeout must be >= 0")
    info = await client.describe(ref)
    try:
        value = await client.result(info.run_id, timeout)
    except WorkflowFailedError as exc:
        return RunResult(
            info.workflow_id, info.run_id, info.workflow_type, exc.status, error=exc.error
        )
    return RunResult(info.workflow_id, info.run_id, info.workflow_type, "COMPLETED", value)


async def rerun(client: AsyncClient, ref: str) -> StartedRun:
    """Start a fresh run of an ended run's workflow with its original input, id, search
    attributes and memo. A run that is still running raises
    :class:`~harvest_studio.WorkflowAlreadyStartedError`."""
    info = await client.describe(ref)
    handle = await client.rerun(info.run_id)
    assert handle.run_id is not None
    return StartedRun(
        handle.workflow_id, handle.run_id, info.workflow_type, client.namespace,
        rerun_of=info.run_id,
    )


async def children(client: AsyncClient, ref: str) -> RunTree:
    """The run and its child runs (and theirs), depth first, siblings oldest first."""
    runs = await client.tree(ref)
    if not runs:
        raise RunNotFoundError(f"no run {ref!r} in namespace {client.namespace!r}")
    by_parent: dict[str | None, list[RunInfo]] = {}
    for run in runs[1:]:
        by_parent.setdefault(run.parent_run_id, []).append(run)
    # siblings started by one decision share a start time: order them as the parent
    # started them (its ChildWorkflowStarted events)
    started_at: dict[str, int] = {}
    for parent, kids in by_parent.items():
        if parent is not None and len(kids) > 1:
            for event in await client.history(parent):
                if isinstance(event.event, ChildWorkflowStarted):
                    started_at[event.event.run_id] = event.seq
    ordered: list[RunInfo] = []
    depths: list[int] = []
    stack: list[tuple[RunInfo, int]] = [(runs[0], 0)]
    while stack:
        run, depth = stack.pop()
        ordered.append(run)
        depths.append(depth)
        kids = sorted(
            by_parent.get(run.run_id, []),
            key=lambda r: (started_at.get(r.run_id, 0), r.created_at, r.run_id),
        )
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return RunTree(ordered, depths)


async def chain(client: AsyncClient, ref: str) -> RunChain:
    """The continue-as-new chain ``ref`` belongs to, oldest first (one run if it never
    continued as new)."""
    info = await client.describe(ref)
    runs = await client.chain(info.run_id)
    return RunChain(info.workflow_id, info.run_id, runs or [info])
