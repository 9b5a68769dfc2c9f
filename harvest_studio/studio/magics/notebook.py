"""``%harvest`` subcommands that use this notebook's code or front end: the in-kernel
``worker``, local ``replay`` and the ``explore`` widget (imported only when used)."""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError

from ...model.definitions import WorkflowDefinition
from ...tools.code_versions import CodeVersions
from ...tools.replay import ReplayReport, areplay_run, render_replay
from ..display import HarvestOutput, replay_html
from ..kernel_worker import WorkerStatus, render_worker_status
from ..worker_log import render_worker_log
from .context import MagicsContext


def do_worker(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    if args.action != "start" and (args.queue or args.concurrency):
        raise IPythonUsageError(
            "usage_error: worker: --queue and --concurrency go with `worker start`"
        )
    if args.limit is not None and args.action != "log":
        raise IPythonUsageError("usage_error: worker: --limit goes with `worker log`")
    if args.action == "log":
        records = magics.kernel_worker.log.tail(args.limit or 50)
        return HarvestOutput(records, render_worker_log(records), title="%harvest worker log")
    status: WorkerStatus
    if args.action == "start":
        tuning = dict(magics.worker_options)
        if args.concurrency is not None:
            tuning["max_concurrent_tasks"] = args.concurrency
        status = magics.kernel_worker.start(magics.client, queues=args.queue, **tuning)
    elif args.action == "stop":
        status = magics.kernel_worker.stop()
    else:
        status = magics.kernel_worker.status()
    return HarvestOutput(status, render_worker_status(status), title="%harvest worker")


def do_replay(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    code: WorkflowDefinition | CodeVersions = magics.versions
    if args.code is not None:
        value = magics.user_ns.get(args.code)
        if not isinstance(value, WorkflowDefinition):
            raise IPythonUsageError(
                f"usage_error: replay: --code {args.code}: not a variable holding an "
                "@hs.workflow"
            )
        code = value
    report: ReplayReport = magics.run(lambda c: areplay_run(c, args.ref, code))
    return HarvestOutput(report, render_replay(report), replay_html(report))


def do_explore(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> Any:
    from ..widgets.explorer import explore

    return explore(magics.client, args.ref, window_size=args.window, live=args.live)
