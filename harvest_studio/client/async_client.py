"""The async client: every operation on runs of one database and namespace, in layers
(``_base``: pool, lookups, waiting; ``_talking``; ``_starting``; ``_resets``; ``_flow``;
``_schedules``), plus
listing, run trees and chains, and namespaces."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .. import store
from ..model.dag import RETRY_KEY, split_retry
from ..model.dag_runs import node_infos
from ..model.definitions import WorkflowDefinition
from ..model.errors import (
    NamespaceNotEmptyError,
    NamespaceNotFoundError,
    UsageError,
)
from ..model.filters import parse_filter
from ._audit import audited
from ._hooks import HooksClient
from ._retry import retried
from .handles import AsyncRunHandle
from .info import (
    TERMINAL_STATUSES,
    DagRunInfo,
    DagTypeInfo,
    RunInfo,
    RunPage,
    _decode_page_token,
)


def _succeeded_items(info: DagRunInfo, map_name: str) -> dict[str, Any]:
    prefix = f"{map_name}["
    return {
        name[len(prefix) : -1]: node.result
        for name, node in info.nodes.items()
        if node.kind == "item" and name.startswith(prefix) and node.state == "succeeded"
    }


_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}")


class AsyncClient(HooksClient):
    """Async access to one database and namespace. Use :func:`connect` for the sync face."""

    def handle(self, ref: str) -> AsyncRunHandle:
        """A handle for a workflow id or run id (resolved lazily)."""
        return AsyncRunHandle(self, ref, None)

    @retried(True)
    async def dag_run(self, ref: str) -> DagRunInfo:
        """A DAG run with each node's state, attempts, times and result, and the graph of
        its code version (:class:`UsageError` if ``ref`` is not a run of a DAG)."""
        info = await self.describe(ref)
        async with self.pool.connection() as conn:
            details = await store.workflow_details(
                conn, self.namespace, info.workflow_type, info.fingerprint
            )
        if not isinstance(details, dict) or "dag" not in details:
            raise UsageError(f"run {ref} is a run of {info.workflow_type}, which is not a DAG")
        history = await self.history(info.run_id)
        graph = details["dag"]
        return DagRunInfo(info, node_infos(graph, history, info.status), graph)

    @retried(True)
    async def dags(self) -> list[DagTypeInfo]:
        """The DAG types known in the namespace (by name): newest graph, newest run."""
        async with self.pool.connection() as conn:
            rows = await store.dag_types(conn, self.namespace)
        return [DagTypeInfo(**row) for row in rows]

    @retried(True)
    async def dag_graph(self, name: str) -> dict[str, Any]:
        """The graph recorded for the newest registered version of the DAG ``name``."""
        async with self.pool.connection() as conn:
            details = await store.workflow_details(conn, self.namespace, name, None)
        if not isinstance(details, dict) or "dag" not in details:
            raise UsageError(f"no DAG {name!r} is registered in namespace {self.namespace!r}")
        return dict(details["dag"])

    async def dag_runs(self, dag: WorkflowDefinition | str, *, limit: int = 20) -> list[DagRunInfo]:
        """The DAG's runs, newest first (at most ``limit``), each as :meth:`dag_run` gives it."""
        name = dag.name if isinstance(dag, WorkflowDefinition) else dag
        page = await self.list(workflow_type=name, limit=limit)
        return [await self.dag_run(run.run_id) for run in page.runs]

    @audited("dag.approve", "run", "ref")
    async def approve(
        self, ref: str, node: str, *, by: str | None = None, comment: str | None = None
    ) -> None:
        """Open the approval node ``node`` of a DAG run (``d.approval``)."""
        await self.signal(ref, f"approve:{node}", {"approved": True, "by": by, "comment": comment})

    @audited("dag.reject", "run", "ref")
    async def reject(
        self, ref: str, node: str, *, by: str | None = None, comment: str | None = None
    ) -> None:
        """Refuse the approval node ``node`` of a DAG run: the node fails."""
        await self.signal(
            ref, f"approve:{node}", {"approved": False, "by": by, "comment": comment}
        )

    @audited("dag.mark", "run", "ref")
    async def mark_node(
        self,
        ref: str,
        node: str,
        state: str = "succeeded",
        *,
        result: Any = None,
        by: str | None = None,
        reason: str | None = None,
    ) -> None:
        """End a node of a running DAG run by hand, as ``succeeded`` (with ``result``) or
        ``skipped``: what it was doing (waiting, running its activity) is cancelled and its
        downstream nodes go on by their rules. The marker in history names ``by`` and
        ``reason``. Only a node that has not finished can be marked."""
        if state not in ("succeeded", "skipped"):
            raise UsageError(f"a node can be marked succeeded or skipped, not {state!r}")
        info = await self.dag_run(ref)
        found = info.nodes.get(node)
        if found is None or found.kind == "item":
            raise UsageError(f"run {ref} has no DAG node {node!r}")
        if info.status != "RUNNING" or found.state not in ("pending", "running", "waiting"):
            raise UsageError(
                f"node {node} is {found.state} in a {info.status} run; it cannot be marked"
            )
        await self.signal(
            info.id, f"dag.mark:{node}",
            {"state": state, "result": result, "by": by, "reason": reason},
        )

    @audited("dag.retry", "run", "ref")
    async def retry_failed_nodes(self, ref: str) -> AsyncRunHandle:
        """Start a new run of an ended DAG run's DAG, with its params, that keeps the results
        of the nodes (and map items) that succeeded and runs the others again. The new run
        has the same workflow id; its history says which nodes were reused, and from where."""
        info = await self.dag_run(ref)
        if info.status == "RUNNING":
            raise UsageError(f"run {ref} is still running; retry its failed nodes once it ends")
        nodes: dict[str, Any] = {}
        items: dict[str, dict[str, Any]] = {}
        for name, node in info.nodes.items():
            if node.kind == "item":
                continue
            if node.state == "succeeded":
                nodes[name] = node.result
            elif node.kind == "map":
                items[name] = _succeeded_items(info, name)
        if len(nodes) == sum(n.kind != "item" for n in info.nodes.values()):
            raise UsageError(f"every node of run {ref} succeeded; there is nothing to retry")
        history = await self.history(info.id, limit=1)
        params, _ = split_retry(getattr(history[0].event, "args", []))
        retry = {RETRY_KEY: {"from": info.id, "nodes": nodes, "items": items}}
        return await self.start(
            info.run.workflow_type, *params, retry, id=info.run.workflow_id,
            memo={"retry_of": info.id},
        )

    @retried(True)
    async def registered_workflows(self) -> list[str]:
        """Names of the workflow types some worker has served in this namespace."""
        async with self.pool.connection() as conn:
            return await store.registered_workflow_names(conn, self.namespace)

    @audited("namespace.create", "namespace", "name")
    @retried(True)
    async def create_namespace(self, name: str, description: str | None = None) -> bool:
        """Create a namespace (False if it exists). Names: letters, digits, ``-_.``."""
        if not _NAMESPACE_NAME.fullmatch(name or ""):
            raise UsageError(f"bad namespace name {name!r}: 1-63 letters, digits, '-', '_' or '.'")
        async with self.pool.connection() as conn:
            return await store.create_namespace(conn, name, description)

    @retried(True)
    async def namespace_exists(self, name: str) -> bool:
        """Whether namespace ``name`` exists (one indexed lookup)."""
        async with self.pool.connection() as conn:
            return await store.namespace_exists(conn, name)

    @retried(True)
    async def list_namespaces(self) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            return await store.list_namespaces(conn)

    @audited("namespace.delete", "namespace", "name")
    @retried(True)
    async def delete_namespace(self, name: str) -> None:
        """Delete a namespace that has no runs (``default`` cannot be deleted)."""
        if name == "default":
            raise UsageError("the default namespace cannot be deleted")
        async with self.pool.connection() as conn:
            outcome = await store.delete_namespace(conn, name)
        if outcome == "not_found":
            raise NamespaceNotFoundError(f"no namespace {name!r}")
        if outcome == "not_empty":
            raise NamespaceNotEmptyError(f"namespace {name!r} still has runs")

    @retried(True)
    async def list(
        self,
        *,
        workflow_type: str | None = None,
        status: str | Sequence[str] | None = None,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        workflow_id: str | None = None,
        blocked: bool | None = None,
        query: str | None = None,
        limit: int = 50,
        page_token: str | None = None,
    ) -> RunPage:
        """Runs, newest first. Pass the returned ``next_page_token`` for the next page.

        ``query`` is a filter over search attributes and built-in fields, for example
        ``'customer = "acme" AND amount > 100 AND status = "RUNNING"'`` (see
        :mod:`harvest_studio._filters`); a malformed one raises ``FilterError``.
        """
        parsed = parse_filter(query) if query is not None else None
        statuses = [status] if isinstance(status, str) else list(status or [])
        for s in statuses:
            if s not in ("RUNNING", *TERMINAL_STATUSES):
                raise UsageError(f"unknown status {s!r}")
        if not 1 <= limit <= 1000:
            raise UsageError("limit must be between 1 and 1000")
        after = _decode_page_token(page_token) if page_token else None
        flt = store.RunFilter(
            namespace=self.namespace,
            workflow_type=workflow_type,
            statuses=statuses,
            started_after=started_after,
            started_before=started_before,
            workflow_id=workflow_id,
            blocked=blocked,
            query=parsed,
        )
        async with self.pool.connection() as conn:
            rows = await store.list_runs(conn, flt, limit=limit + 1, after=after)
        runs = [RunInfo.from_row(r) for r in rows[:limit]]
        token = None
        if len(rows) > limit:
            last = runs[-1]
            token = f"{last.created_at.isoformat()}|{last.run_id}"
        return RunPage(runs, token)
