"""Query tasks: answer a run's query handler from committed history, writing no events."""

from __future__ import annotations

import logging

from ... import store
from ...model import serde
from ...model.errors import NonDeterminismError, WorkflowCodeError
from ...model.payloads import decode_args
from ..history_rules import error_dict
from ..replay import WorkflowInstance
from .core import Row, WorkerCore, history_event

log = logging.getLogger("harvest_studio.worker")


class QueryAnswerer:
    def __init__(self, core: WorkerCore) -> None:
        self.core = core

    async def answer_query(self, row: Row) -> None:
        """Ask the run's query handler, on the state that committed history describes.

        A cached instance is used only if it is exactly as long as the committed history
        (checked again right before the handler runs, with no await in between: an
        in-flight decision takes its instance out of the cache). Otherwise the history is
        replayed on a fresh instance.
        """
        query_id = int(row["input"]["query_id"])
        run_id = row["run_id"]
        status, result_json, error_json = "FAILED", None, None
        try:
            async with self.core.pool.connection() as conn:
                query = await store.get_query(conn, query_id)
                committed = await store.run_last_seq(conn, run_id)
            cached = self.core.cache.get(run_id)
            history: list[Row] | None = None
            if cached is None or len(cached.events) != committed:
                history = (await self.core.full_history([run_id]))[run_id]
            if query is not None:
                current = self.core.cache.get(run_id)
                use_cache = (
                    history is None
                    and current is cached
                    and current is not None
                    and len(current.events) == committed
                )
                if not use_cache and history is None:
                    history = (await self.core.full_history([run_id]))[run_id]
                    current = None
                instance = (
                    current
                    if use_cache and current is not None
                    else WorkflowInstance(self.core.workflows[row["type_name"]], run_id)
                )
                try:
                    if not use_cache:
                        instance.replay([history_event(r) for r in history or []])
                    handler = instance.query_handlers.get(query["name"])
                    if handler is None:
                        known = sorted(instance.query_handlers)
                        error_json = serde.dumps(
                            {
                                "code": "unknown_query",
                                "message": f"no query handler {query['name']!r}"
                                f" (known: {', '.join(known) or 'none'})",
                            }
                        )
                    else:
                        value = handler(*decode_args(handler, query["args"]))
                        result_json = serde.dumps(value, what="query result")
                        status = "ANSWERED"
                except (NonDeterminismError, WorkflowCodeError) as exc:
                    error_json = serde.dumps({"code": exc.code, "message": str(exc)})
                except Exception as exc:
                    error_json = serde.dumps({"code": "query_failed", **error_dict(exc)})
                finally:
                    if not use_cache:
                        instance.evict()
            async with self.core.pool.connection() as conn:
                await store.answer_query(
                    conn,
                    task_id=int(row["task_id"]),
                    worker_id=self.core.worker_id,
                    attempt=int(row["attempt"]),
                    query_id=query_id,
                    status=status,
                    result_json=result_json,
                    error_json=error_json,
                )
        except Exception:
            log.exception("could not answer query %s", query_id)
        finally:
            self.core.let_go([row])
            self.core.release_slot()
