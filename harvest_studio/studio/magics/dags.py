"""``%harvest dag show|graph|runs|retry|mark`` and ``%harvest schedule
create|list|show|preview|pause|resume|trigger|backfill|delete|log``: DAGs and schedules from
the notebook. ``dag graph`` shows the SVG itself; the tables show as HTML."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError

from ... import commands
from ...commands import render
from ...commands.render.dags import dag_run_html, dag_runs_html
from ...commands.render.schedules import preview_html, schedule_log_html, schedules_html
from ...model.definitions import WorkflowDefinition
from ..display import HarvestOutput
from .context import MagicsContext


class GraphOutput(HarvestOutput):
    """What ``%harvest dag graph`` returns: it displays as the SVG (``image/svg+xml``);
    ``.svg``, ``.save(path)`` and the rest read through to the :class:`DagPicture`."""

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text, "image/svg+xml": self.data.svg}

    def _repr_svg_(self) -> str:
        svg: str = self.data.svg
        return svg


# ---------------------------------------------------------------------------------------
# dag
# ---------------------------------------------------------------------------------------
def _defined_dag(magics: MagicsContext, name: str) -> WorkflowDefinition | None:
    """The DAG ``name`` defined in this notebook, if there is one."""
    found = magics.versions.bound_workflow(name, magics.user_ns)
    details = found.details() if found is not None else None
    return found if isinstance(details, dict) and "dag" in details else None


def _dag_graph(magics: MagicsContext, args: argparse.Namespace) -> Any:
    commands.check_engine(args.engine)
    if args.live:
        return _live_graph(magics, args)
    defined = None if args.run else _defined_dag(magics, args.target)
    picture: commands.DagPicture
    if defined is not None:  # the notebook's own definition: no database
        picture = commands.draw_definition(defined, engine=args.engine)
    else:
        picture = magics.run(
            lambda c: commands.dag_graph(c, args.target, args.run, engine=args.engine)
        )
    if args.output:
        try:
            picture.save(args.output)
        except OSError as exc:
            raise IPythonUsageError(f"usage_error: dag graph: -o {args.output}: {exc}") from None
        picture = dataclasses.replace(picture, path=args.output)
    return GraphOutput(picture, render.render_dag_picture(picture))


def _live_graph(magics: MagicsContext, args: argparse.Namespace) -> Any:
    if args.output:
        raise IPythonUsageError("usage_error: dag graph: --live draws in the notebook; drop -o")
    if args.interval <= 0:
        raise IPythonUsageError("usage_error: dag graph: --interval must be more than 0 s")
    from ..widgets.dag_graph import dag_graph_view

    if args.run:  # NAME RUN: the run must be one of that DAG's
        magics.run(lambda c: commands.dag_run_of(c, args.target, args.run))
    ref = args.run or args.target
    return dag_graph_view(magics.client, ref, interval=args.interval, engine=args.engine)


def do_dag(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> Any:
    if args.action == "list":
        dags: commands.DagList = magics.run(commands.dag_list)
        return HarvestOutput(dags, render.render_dag_list(dags))
    if args.action == "show":
        detail: commands.DagRunDetail = magics.run(
            lambda c: commands.dag_show(c, args.ref, items=args.items)
        )
        return HarvestOutput(detail, render.render_dag_run(detail), dag_run_html(detail))
    if args.action == "graph":
        return _dag_graph(magics, args)
    if args.action == "runs":
        listing: commands.DagRunList = magics.run(
            lambda c: commands.dag_runs(c, args.dag, limit=args.limit)
        )
        return HarvestOutput(listing, render.render_dag_runs(listing), dag_runs_html(listing))
    if args.action == "retry":
        retry: commands.DagRetry = magics.run(lambda c: commands.dag_retry(c, args.ref))
        magics.touched()
        return HarvestOutput(retry, render.render_dag_retry(retry))
    commands.check_mark(args.skipped, args.result)
    mark: commands.NodeMark = magics.run(
        lambda c: commands.dag_mark(
            c,
            args.ref,
            args.node,
            skipped=args.skipped,
            result=args.result,
            by=args.by,
            reason=args.reason,
        )
    )
    return HarvestOutput(mark, render.render_node_mark(mark))


# ---------------------------------------------------------------------------------------
# schedule
# ---------------------------------------------------------------------------------------
def _create(magics: MagicsContext, args: argparse.Namespace) -> HarvestOutput:
    options: dict[str, Any] = {
        "cron": args.cron,
        "every": args.every,
        "timezone": args.timezone,
        "overlap": args.overlap,
        "catchup": args.catchup,
        "jitter": args.jitter,
        "start_at": args.start_at,
        "end_at": args.end_at,
        "max_runs": args.max_runs,
        "failure_limit": args.failure_limit,
    }
    # a workflow defined in this notebook is registered with the schedule, so its runs
    # start even before a worker has served it
    definition = magics.versions.bound_workflow(args.workflow, magics.user_ns)
    workflow: WorkflowDefinition | str = definition or args.workflow
    commands.check_schedule(args.name, workflow, args.args, **options)
    action: commands.ScheduleAction = magics.run(
        lambda c: commands.schedule_create(
            c,
            args.name,
            workflow,
            args.args,
            paused=args.paused,
            note=args.note,
            replace=args.replace,
            **options,
        )
    )
    magics.touched()
    return HarvestOutput(action, render.render_schedule_action(action))


def _preview(magics: MagicsContext, args: argparse.Namespace) -> HarvestOutput:
    commands.check_preview(
        args.name,
        cron=args.cron,
        every=args.every,
        timezone=args.timezone,
        after=args.start,
        count=args.count,
    )
    preview: commands.SchedulePreview
    if args.name is None:  # a spec that is not saved: no database
        preview = commands.preview_spec(
            cron=args.cron,
            every=args.every,
            timezone=args.timezone,
            after=args.start,
            count=args.count,
        )
    else:
        preview = magics.run(
            lambda c: commands.schedule_preview(c, args.name, after=args.start, count=args.count)
        )
    return HarvestOutput(preview, render.render_preview(preview), preview_html(preview))


def do_schedule(magics: MagicsContext, args: argparse.Namespace, body: str | None) -> HarvestOutput:
    action = args.action
    if action == "create":
        return _create(magics, args)
    if action == "preview":
        return _preview(magics, args)
    if action == "list":
        listing: commands.ScheduleList = magics.run(commands.schedule_list)
        return HarvestOutput(listing, render.render_schedules(listing), schedules_html(listing))
    if action == "show":
        info = magics.run(lambda c: commands.schedule_show(c, args.name))
        return HarvestOutput(info, render.render_schedule(info), title=f"schedule {args.name}")
    if action == "log":
        log: commands.ScheduleLog = magics.run(
            lambda c: commands.schedule_log(c, args.name, args.limit)
        )
        return HarvestOutput(log, render.render_schedule_log(log), schedule_log_html(log))
    if action in ("pause", "resume"):
        act = commands.schedule_pause if action == "pause" else commands.schedule_resume
        done = magics.run(lambda c: act(c, args.name, args.note))
        return HarvestOutput(done, render.render_schedule_action(done))
    if action == "delete":
        deleted = magics.run(lambda c: commands.schedule_delete(c, args.name))
        return HarvestOutput(deleted, render.render_schedule_action(deleted))
    if action == "backfill":
        commands.check_backfill(args.start, args.end)
        runs = magics.run(lambda c: commands.schedule_backfill(c, args.name, args.start, args.end))
    else:
        runs = magics.run(lambda c: commands.schedule_trigger(c, args.name))
    magics.touched()
    return HarvestOutput(runs, render.render_schedule_runs(runs))
