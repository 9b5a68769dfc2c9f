"""``/api/v1/runs``: start, list, describe, history, result, and every action on a run —
each a thin call into the command layer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from .. import commands
from ..commands.render import to_json
from ..model.errors import RunTimeoutError, UsageError
from .auth import Operator, Reader
from .errors import ERROR_RESPONSES
from .models import QueryRun, Reason, ResetRun, SignalRun, StartRun, UpdateRun

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], responses=ERROR_RESPONSES)
Ref = Annotated[str, Path(min_length=1, max_length=400, description="workflow id or run id")]
Json = dict[str, Any]


@router.get("", summary="List runs (filter language, cursor pages), newest first")
async def list_runs(
    session: Reader,
    query: Annotated[str | None, Query(max_length=4000,
                                       description="e.g. status = 'FAILED' AND type = 'etl'")]
    = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=2000,
                                        description="next_cursor of the previous page")] = None,
) -> Json:
    page = await session.call(commands.list_runs, query=query, limit=limit, page_token=cursor)
    return {"runs": to_json(page.runs), "next_cursor": page.next_page_token}


@router.post("", status_code=201, summary="Start a run (with `signal`: signal-with-start)",
             responses={200: {"description": "the open run was used (use_existing), or "
                                              "only signalled (signal-with-start)"}})
async def start_run(session: Operator, body: StartRun, response: Response) -> Json:
    if body.signal is not None:
        if body.id is None:
            raise UsageError("signal-with-start needs an id")
        started = await session.call(
            commands.signal_with_start, body.workflow, body.args, id=body.id,
            signal=body.signal.name, signal_payload=body.signal.payload,
            id_reuse_policy=body.id_reuse_policy, idempotency_key=body.idempotency_key,
            execution_timeout=body.execution_timeout, queue=body.queue, force=body.force,
            search_attributes=body.search_attributes, memo=body.memo,
            start_delay=body.start_delay, priority=body.priority,
            fairness_key=body.fairness_key,
        )
        if not started.started:
            response.status_code = 200
        signalled: Json = to_json(started)
        return signalled
    started = await session.call(
        commands.start, body.workflow, body.args, id=body.id,
        id_reuse_policy=body.id_reuse_policy, id_conflict_policy=body.id_conflict_policy,
        idempotency_key=body.idempotency_key, execution_timeout=body.execution_timeout,
        queue=body.queue, force=body.force, search_attributes=body.search_attributes,
        memo=body.memo, start_delay=body.start_delay, priority=body.priority,
        fairness_key=body.fairness_key,
    )
    if not started.started:
        response.status_code = 200
    result: Json = to_json(started)
    return result


@router.get("/{ref}", summary="Describe a run")
async def describe_run(session: Reader, ref: Ref) -> Json:
    result: Json = to_json(await session.call(commands.show, ref))
    return result


@router.get("/{ref}/history", summary="A page of a run's history")
async def run_history(
    session: Reader,
    ref: Ref,
    after_seq: Annotated[int, Query(ge=0, le=2**31)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Json:
    result: Json = to_json(
        await session.call(commands.history, ref, after_seq=after_seq, limit=limit)
    )
    return result


@router.get("/{ref}/result", summary="How a run ended; waits up to `wait` seconds",
            responses={204: {"description": "still running after `wait` seconds"}})
async def run_result(
    session: Reader, ref: Ref, wait: Annotated[float, Query(ge=0, le=60)] = 0
) -> Any:
    try:
        return to_json(await session.call(commands.result, ref, wait))
    except RunTimeoutError:
        return Response(status_code=204, headers={"Retry-After": "1"})


@router.get("/{ref}/children", summary="A run and its child runs as a tree")
async def run_children(session: Reader, ref: Ref) -> Json:
    result: Json = to_json(await session.call(commands.children, ref))
    return result


@router.get("/{ref}/chain", summary="A run's continue-as-new chain, oldest first")
async def run_chain(session: Reader, ref: Ref) -> Json:
    result: Json = to_json(await session.call(commands.chain, ref))
    return result


@router.post("/{ref}/cancel", summary="Ask a run to cancel (its code may clean up)")
async def cancel_run(session: Operator, ref: Ref, body: Reason | None = None) -> Json:
    result: Json = to_json(await session.call(commands.cancel, ref, _reason(body)))
    return result


@router.post("/{ref}/terminate", summary="End a run now, without running its code")
async def terminate_run(session: Operator, ref: Ref, body: Reason | None = None) -> Json:
    result: Json = to_json(await session.call(commands.terminate, ref, _reason(body)))
    return result


@router.post("/{ref}/pause", summary="Hold a run's new work (running attempts finish)")
async def pause_run(session: Operator, ref: Ref, body: Reason | None = None) -> Json:
    result: Json = to_json(await session.call(commands.pause, ref, _reason(body)))
    return result


@router.post("/{ref}/resume", summary="Let a paused run go on")
async def resume_run(session: Operator, ref: Ref, body: Reason | None = None) -> Json:
    result: Json = to_json(await session.call(commands.resume, ref, _reason(body)))
    return result


@router.post("/{ref}/signal", summary="Send a signal")
async def signal_run(session: Operator, ref: Ref, body: SignalRun) -> Json:
    result: Json = to_json(await session.call(
        commands.signal, ref, body.name, body.payload, idempotency_key=body.idempotency_key
    ))
    return result


@router.post("/{ref}/query", summary="Ask a run's query handler (read-only)")
async def query_run(session: Reader, ref: Ref, body: QueryRun) -> Json:
    result: Json = to_json(
        await session.call(commands.query, ref, body.name, body.args, timeout=body.timeout)
    )
    return result


@router.post("/{ref}/update", summary="Send an update and wait for its result")
async def update_run(session: Operator, ref: Ref, body: UpdateRun) -> Json:
    result: Json = to_json(await session.call(
        commands.update, ref, body.name, body.args, update_id=body.update_id,
        timeout=body.timeout, wait_for=body.wait_for,
    ))
    return result


@router.post("/{ref}/reset", summary="Reset a run to a completed point (dry_run: preview)")
async def reset_run(session: Operator, ref: Ref, body: ResetRun) -> Json:
    result: Json = to_json(await session.call(
        commands.reset, ref, to_event=body.to_event, to=body.to,
        reapply_signals=body.reapply_signals, dry_run=body.dry_run, reason=body.reason,
    ))
    return result


@router.post("/{ref}/rerun", status_code=201, summary="Start an ended run again")
async def rerun_run(session: Operator, ref: Ref) -> Json:
    result: Json = to_json(await session.call(commands.rerun, ref))
    return result


@router.post("/{ref}/retry", summary="Retry a run from its last failed activity")
async def retry_run(session: Operator, ref: Ref, body: Reason | None = None) -> Json:
    result: Json = to_json(await session.call(commands.retry, ref, reason=_reason(body)))
    return result


def _reason(body: Reason | None) -> str | None:
    return None if body is None else body.reason
