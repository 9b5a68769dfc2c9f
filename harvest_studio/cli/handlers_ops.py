"""Handlers of the other ``harvest`` commands: talking to a run (signal, cancel, terminate,
pause, resume, query, update), namespaces, the database schema, ``worker`` and ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from .. import commands
from ..commands.render import (
    render_action,
    render_db_status,
    render_namespace_action,
    render_namespaces,
    render_query,
    render_update,
)
from ..engine import Worker
from ..store.connection import database_url, describe_url
from .common import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    CommandLineError,
    _emit,
    _print,
    _with_client,
)


def _cmd_db_status(args: argparse.Namespace) -> int:
    status = asyncio.run(commands.db_status(database_url(args.database_url)))
    _emit(args, status, render_db_status)
    return EXIT_OK


def _cmd_db_migrate(args: argparse.Namespace) -> int:
    status = asyncio.run(commands.db_migrate(database_url(args.database_url)))
    _emit(args, status, render_db_status)
    return EXIT_OK


def _cmd_signal(args: argparse.Namespace) -> int:
    payload = commands.parse_payload(args.payload)  # before the database is touched
    commands.check_signal(args.name, payload, args.idempotency_key)
    action = asyncio.run(
        _with_client(
            args,
            lambda c: commands.signal(
                c, args.ref, args.name, payload, idempotency_key=args.idempotency_key
            ),
        )
    )
    _emit(args, action, render_action)
    return EXIT_OK


_RUN_ACTIONS: dict[str, Callable[..., Awaitable[commands.RunAction]]] = {
    "cancel": commands.cancel,
    "terminate": commands.terminate,
    "pause": commands.pause,
    "resume": commands.resume,
}


def _cmd_run_action(args: argparse.Namespace) -> int:
    act = _RUN_ACTIONS[args.command]
    action = asyncio.run(_with_client(args, lambda c: act(c, args.ref, args.reason)))
    _emit(args, action, render_action)
    return EXIT_OK


def _cmd_query(args: argparse.Namespace) -> int:
    values = commands.parse_json_args(args.args)
    commands.check_call("query", args.name, values, args.timeout)
    answer = asyncio.run(
        _with_client(
            args, lambda c: commands.query(c, args.ref, args.name, values, timeout=args.timeout)
        )
    )
    _emit(args, answer, render_query)
    return EXIT_OK


def _cmd_update(args: argparse.Namespace) -> int:
    values = commands.parse_json_args(args.args)
    commands.check_call("update", args.name, values, args.timeout)
    if args.update_id is not None and not args.update_id:
        raise CommandLineError("update: --update-id must not be empty")
    outcome = asyncio.run(
        _with_client(
            args,
            lambda c: commands.update(
                c, args.ref, args.name, values, update_id=args.update_id, timeout=args.timeout,
                wait_for=args.wait_for,
            ),
        )
    )
    _emit(args, outcome, render_update)
    return EXIT_OK


def _cmd_namespace_create(args: argparse.Namespace) -> int:
    action = asyncio.run(
        _with_client(
            args, lambda c: commands.namespace_create(c, args.name, args.description)
        )
    )
    _emit(args, action, render_namespace_action)
    return EXIT_OK


def _cmd_namespace_list(args: argparse.Namespace) -> int:
    listing = asyncio.run(_with_client(args, commands.namespace_list))
    _emit(args, listing, render_namespaces)
    return EXIT_OK


def _cmd_namespace_delete(args: argparse.Namespace) -> int:
    action = asyncio.run(
        _with_client(args, lambda c: commands.namespace_delete(c, args.name))
    )
    _emit(args, action, render_namespace_action)
    return EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import render_demo, run_demo

    report = asyncio.run(run_demo(args.database_url, namespace=args.namespace))
    extra = []
    if args.database_url:
        extra.append("--database-url <url>")
    if args.namespace != "default":
        extra.append(f"--namespace {args.namespace}")
    _emit(args, report, lambda r: render_demo(r, extra_options=" ".join(extra)))
    return EXIT_OK if report.ok else EXIT_FAILURE


def _cmd_worker(args: argparse.Namespace) -> int:
    app = commands.load_app(args.module)
    tuning: dict[str, Any] = {}
    if args.concurrency is not None:
        tuning["max_concurrent_tasks"] = args.concurrency
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    url = database_url(args.database_url)
    worker = Worker(
        url=url,
        namespace=args.namespace,
        workflows=app.workflows,
        activities=app.activities,
        schedules=app.schedules,
        queues=args.queue or None,
        **tuning,
    )
    names = ", ".join([w.name for w in app.workflows] + [a.name for a in app.activities])
    _print(
        f"harvest worker {worker.worker_id}: serving {names} from {app.module} "
        f"on queue(s) {', '.join(worker.queues)} in namespace {worker.namespace} "
        f"at {describe_url(url)}; Ctrl-C to stop"
    )
    finished = asyncio.run(_serve(worker))
    _print("worker stopped" if finished else "worker stopped without draining")
    return EXIT_OK if finished else EXIT_INTERRUPTED


async def _serve(worker: Worker) -> bool:
    """Run ``worker`` until SIGTERM/SIGINT (drain), or a second signal (stop at once)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    me = asyncio.current_task()
    seen = 0

    def on_signal() -> None:
        nonlocal seen
        seen += 1
        if seen == 1:
            print("stopping: finishing in-flight work (signal again to quit at once)",
                  file=sys.stderr, flush=True)
            stop.set()
        elif me is not None:
            me.cancel()

    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows / not main thread
            pass
    try:
        await worker.run(stop)
    except asyncio.CancelledError:
        return False
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return True

