"""The cells of ``notebooks/04_dags_and_schedules.ipynb`` (see tests/test_notebooks.py)."""

from __future__ import annotations

from .notebook_cells import PARAMETERS, SETUP, Cell, code, md

DAGS_AND_SCHEDULES: list[Cell] = [
    md(
        """
        # DAGs and schedules

        A DAG is a graph of activities: each node runs once its upstreams allow it. A DAG
        run is a workflow run, so it has a history, survives crashes and can be looked at,
        cancelled or retried. A schedule starts runs on a clock.
        """
    ),
    PARAMETERS,
    SETUP,
    md(
        """
        ## Define

        Activities do the work; the DAG function only wires them. A node passed as an
        argument is an edge *and* its result. `d.map` makes one node per item of a list.
        """
    ),
    code(
        """
        @hs.activity
        def extract(ctx, day):
            return [f"{day}/part-{i}" for i in range(4)]


        @hs.activity
        def transform(ctx, part):
            return len(part)


        @hs.activity
        def load(ctx, sizes):
            return sum(sizes)


        @hs.activity
        def report(ctx):
            return "report sent"


        @hs.dag(params={"day": str})
        def nightly(d, day):
            raw = d.task(extract, day)
            parts = d.map(transform, over=raw, max_parallel=2)
            loaded = d.task(load, parts)
            d.task(report, upstream=[loaded], trigger_rule="all_done")
        """
    ),
    md("The graph is known before anything runs:"),
    code("hs.graph(nightly)"),
    code("%harvest worker start"),
    md("## Run it by hand"),
    code("""run = %harvest start nightly '"2026-12-01"' --id nightly-manual\nrun"""),
    code("%harvest result nightly-manual --timeout {timeout}s"),
    md("Each node's state, attempts and time; then the graph coloured by what happened:"),
    code("%harvest dag show nightly-manual"),
    code("%harvest dag graph nightly-manual"),
    md(
        """
        ## Put it on a clock

        A cron schedule in a timezone: `preview` shows when it would fire, here around
        the spring-forward night in Berlin (02:00 does not exist on 29 March; the slot
        fires at 03:00).
        """
    ),
    code(
        "%harvest schedule preview --cron '0 2 * * *' --timezone Europe/Berlin"
        " --from 2026-03-27T12:00:00+01:00 --count 3"
    ),
    md(
        """
        For the demonstration, every second: `{slot_date}` becomes each slot's date, the
        DAG's `day`. The in-kernel worker's scheduler starts the runs.
        """
    ),
    code(
        """
        %harvest schedule create demo --workflow nightly --every 1s '"{slot_date}"'
        import time
        time.sleep(3)
        %harvest schedule pause demo --note "enough for the tutorial"
        """
    ),
    code("%harvest schedule log demo"),
    code("%harvest worker stop"),
]
