"""The rest of ``/api/v1``: the audit trail, tokens, namespaces, queues, schedules and
DAGs — each a thin call into the command layer."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from .. import commands
from ..commands.render import to_json
from .auth import Admin, GlobalReader, NamespaceAdmin, Operator, Reader
from .errors import ERROR_RESPONSES
from .models import Backfill, MarkNode, NewNamespace, NewSchedule, NewToken, Reason

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
Name = Annotated[str, Path(min_length=1, max_length=200)]
Json = dict[str, Any]


@router.get("/audit", tags=["audit"], summary="The audit trail, newest first")
async def audit(
    session: Reader,
    run: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    target: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    action: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    since: Annotated[str | None, Query(max_length=100,
                                       description="an age like 1d, or an ISO time")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Json:
    result: Json = to_json(await session.call(
        commands.audit_list, run=run, target=target, actor=actor, action=action,
        since=since, before=before, limit=limit,
    ))
    return result


@router.get("/tokens", tags=["tokens"], summary="API tokens (never their secrets)")
async def tokens(session: Admin, include_revoked: bool = False) -> Json:
    result: Json = to_json(
        await session.call(commands.token_list, include_revoked=include_revoked)
    )
    return result


@router.post("/tokens", tags=["tokens"], status_code=201,
             summary="Make a token; its secret is in this response only")
async def create_token(session: Admin, body: NewToken) -> Json:
    result: Json = to_json(
        await session.call(commands.token_create, body.name, body.scope, body.namespace)
    )
    return result


@router.delete("/tokens/{ref}", tags=["tokens"], summary="Revoke a token (by name or id)")
async def revoke_token(session: Admin, ref: Name) -> Json:
    result: Json = to_json(await session.call(commands.token_revoke, ref))
    return result


@router.get("/workers", tags=["workers"],
            summary="Worker processes: host, version, queues, slots, heartbeat, state")
async def workers(session: Reader, include_gone: bool = False) -> Json:
    result: Json = to_json(await session.call(commands.workers_list, include_gone=include_gone))
    return result


@router.post("/workers/{worker_id}/drain", tags=["workers"],
             summary="Drain a worker: it stops claiming, finishes its work, and exits")
async def drain_worker(
    session: NamespaceAdmin, worker_id: Annotated[str, Path(min_length=1, max_length=400)]
) -> Json:
    result: Json = to_json(await session.call(commands.worker_drain, worker_id))
    return result


@router.get("/namespaces", tags=["namespaces"], summary="Namespaces with their run counts")
async def namespaces(session: GlobalReader) -> Json:
    result: Json = to_json(await session.call(commands.namespace_list))
    return result


@router.post("/namespaces", tags=["namespaces"], status_code=201,
             summary="Create a namespace (200 if it exists already)",
             responses={200: {"description": "it existed already"}})
async def create_namespace(session: Admin, body: NewNamespace, response: Response) -> Json:
    done = await session.call(commands.namespace_create, body.name, body.description)
    if not done.changed:
        response.status_code = 200
    result: Json = to_json(done)
    return result


@router.delete("/namespaces/{name}", tags=["namespaces"],
               summary="Delete a namespace that has no runs")
async def delete_namespace(session: Admin, name: Annotated[str, Path(
        min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}$")]) -> Json:
    result: Json = to_json(await session.call(commands.namespace_delete, name))
    return result


@router.get("/queues", tags=["queues"],
            summary="Queues: ready, delayed and running tasks, limits")
async def queues(session: Reader) -> Json:
    result: Json = to_json(await session.call(commands.queue_list))
    return result


@router.post("/queues/{name}/pause", tags=["queues"], summary="Stop claims from a queue")
async def pause_queue(session: Operator, name: Name) -> Json:
    result: Json = to_json(await session.call(commands.queue_pause, name))
    return result


@router.post("/queues/{name}/resume", tags=["queues"], summary="Let a queue be claimed again")
async def resume_queue(session: Operator, name: Name) -> Json:
    result: Json = to_json(await session.call(commands.queue_resume, name))
    return result


@router.get("/schedules", tags=["schedules"], summary="Schedules with their next fire times")
async def schedules(session: Reader) -> Json:
    result: Json = to_json(await session.call(commands.schedule_list))
    return result


@router.get("/schedules/{name}", tags=["schedules"], summary="One schedule")
async def schedule(session: Reader, name: Name) -> Json:
    result: Json = to_json(await session.call(commands.schedule_show, name))
    return result


@router.get("/schedules/{name}/log", tags=["schedules"], summary="A schedule's decisions")
async def schedule_log(
    session: Reader, name: Name, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> Json:
    result: Json = to_json(await session.call(commands.schedule_log, name, limit=limit))
    return result


@router.post("/schedules/{name}/pause", tags=["schedules"], summary="Pause a schedule")
async def pause_schedule(session: Operator, name: Name, body: Reason | None = None) -> Json:
    note = None if body is None else body.reason
    result: Json = to_json(await session.call(commands.schedule_pause, name, note))
    return result


@router.post("/schedules/{name}/resume", tags=["schedules"], summary="Resume a schedule")
async def resume_schedule(session: Operator, name: Name, body: Reason | None = None) -> Json:
    note = None if body is None else body.reason
    result: Json = to_json(await session.call(commands.schedule_resume, name, note))
    return result


@router.post("/schedules/{name}/trigger", tags=["schedules"],
             summary="Start a run of a schedule now")
async def trigger_schedule(session: Operator, name: Name) -> Json:
    result: Json = to_json(await session.call(commands.schedule_trigger, name))
    return result


@router.post("/schedules", tags=["schedules"], status_code=201,
             summary="Create a schedule (cron or interval; replace: overwrite one)")
async def create_schedule(session: Operator, body: NewSchedule) -> Json:
    result: Json = to_json(await session.call(
        commands.schedule_create, body.name, body.workflow,
        [json.dumps(a) for a in body.args], paused=body.paused, note=body.note,
        replace=body.replace, cron=body.cron, every=body.every, timezone=body.timezone,
        overlap=body.overlap, catchup=body.catchup, jitter=body.jitter,
        start_at=body.start_at, end_at=body.end_at, max_runs=body.max_runs,
        failure_limit=body.failure_limit,
    ))
    return result


@router.post("/schedules/{name}/backfill", tags=["schedules"],
             summary="Start the run of every slot in a window that has none")
async def backfill_schedule(session: Operator, name: Name, body: Backfill) -> Json:
    result: Json = to_json(
        await session.call(commands.schedule_backfill, name, body.start, body.end))
    return result


@router.delete("/schedules/{name}", tags=["schedules"],
               summary="Delete a schedule (its runs and log are kept)")
async def delete_schedule(session: Operator, name: Name) -> Json:
    result: Json = to_json(await session.call(commands.schedule_delete, name))
    return result


@router.get("/dags", tags=["dags"], summary="DAG types with their newest run")
async def dags(session: Reader) -> Json:
    result: Json = to_json(await session.call(commands.dag_list))
    return result


@router.get("/dags/{name}/runs", tags=["dags"], summary="A DAG's runs, newest first")
async def dag_runs(
    session: Reader, name: Name, limit: Annotated[int, Query(ge=1, le=1000)] = 20
) -> Json:
    result: Json = to_json(await session.call(commands.dag_runs, name, limit=limit))
    return result


@router.get("/dag-runs/{ref}", tags=["dags"], summary="A DAG run node by node")
async def dag_run(session: Reader, ref: Annotated[str, Path(min_length=1, max_length=400)]
                  ) -> Json:
    result: Json = to_json(await session.call(commands.dag_show, ref))
    return result


@router.post("/dag-runs/{ref}/nodes/{node}/mark", tags=["dags"],
             summary="End a waiting node by hand: succeeded (with a result) or skipped")
async def mark_node(
    session: Operator, ref: Annotated[str, Path(min_length=1, max_length=400)],
    node: Name, body: MarkNode,
) -> Json:
    result: Json = to_json(await session.call(
        commands.dag_mark, ref, node, skipped=body.state == "skipped",
        result=None if body.state == "skipped" else json.dumps(body.result),
        by=session.caller.actor, reason=body.reason,
    ))
    return result


@router.post("/dag-runs/{ref}/retry", tags=["dags"], summary="Retry a DAG run's failed nodes")
async def retry_dag_run(
    session: Operator, ref: Annotated[str, Path(min_length=1, max_length=400)]
) -> Json:
    result: Json = to_json(await session.call(commands.dag_retry, ref))
    return result
