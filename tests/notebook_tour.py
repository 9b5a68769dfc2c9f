"""The source of ``notebooks/00_tour.ipynb``: two minutes from a workflow to SQL over its
history (the Binder badge and ``harvest studio`` open it)."""

from __future__ import annotations

from .notebook_cells import PARAMETERS, SETUP, Cell, code, md

TOUR: list[Cell] = [
    md(
        """
        # Harvest Studio in two minutes

        Durable workflows on PostgreSQL, written and watched from a notebook. This tour
        needs no setup: with no `HARVEST_DATABASE_URL` the project starts its own private
        PostgreSQL.

        Run the cells from top to bottom (**Run → Run All Cells** works too). Keep an eye on
        the **Harvest sidebar** on the left (the wheat icon) and the **status bar** at the
        bottom: they follow the runs this notebook starts, live.
        """
    ),
    PARAMETERS,
    SETUP,
    code(
        """
        import time

        client = hs.connect(database_url)
        """
    ),
    md(
        """
        ## 1. Define a workflow

        Activities are plain functions, run at least once with retries. A workflow is an
        `async` function replayed from its recorded history: it survives crashes, restarts
        and deploys. The address check below fails twice before it succeeds; the retry
        policy takes care of it.
        """
    ),
    code(
        """
        attempts = {}
        patient = hs.RetryPolicy(max_attempts=5, initial_interval=0.2)


        @hs.activity(start_to_close="30s", retry=patient)
        def check_address(ctx, user):
            attempts[user] = attempts.get(user, 0) + 1
            if attempts[user] < 3:
                raise ConnectionError("the address service timed out")
            return {"user": user, "valid": True}


        @hs.activity(start_to_close="30s")
        def send_welcome(ctx, user):
            time.sleep(0.5)
            return f"welcome mail sent to {user}"


        @hs.workflow
        async def onboarding(ctx, user):
            await ctx.execute_activity(check_address, user)
            await ctx.sleep(2)  # a durable timer: a crash here loses nothing
            return await ctx.execute_activity(send_welcome, user)
        """
    ),
    md(
        """
        ## 2. Start it, and watch it live

        `%harvest worker start` runs a worker inside this kernel for the workflows defined
        above (in production the same code runs as `harvest worker app.module`). The
        explorer shows the run as it happens: the timeline, every event, and what each
        attempt did. The same run appears in the sidebar; click it there to open the
        explorer as a Lab tab.
        """
    ),
    code("%harvest worker start"),
    code(
        """
        run = client.start(onboarding, "ada", id=f"tour-onboarding-{time.time_ns()}")
        %harvest explore {run.run_id} --live
        """
    ),
    code("run.result(timeout=timeout)"),
    md(
        """
        ## 3. A DAG

        Nightly jobs are DAGs: tasks, fan-out over a list, trigger rules. `hs.graph` draws
        one before it runs; `%harvest dag graph` draws a run of it, node by node.
        """
    ),
    code(
        """
        @hs.activity
        def extract(ctx, day):
            return [f"{day}/part-{i}" for i in range(4)]


        @hs.activity
        def transform(ctx, part):
            time.sleep(0.1)
            return len(part)


        @hs.activity
        def load(ctx, sizes):
            return sum(sizes)


        @hs.dag(params={"day": str})
        def nightly(d, day):
            raw = d.task(extract, day)
            parts = d.map(transform, over=raw, max_parallel=2)
            d.task(load, parts)


        hs.graph(nightly)
        """
    ),
    code(
        """
        %harvest worker start
        dag_run = client.start(nightly, "2026-12-01", id=f"tour-nightly-{time.time_ns()}")
        dag_run.result(timeout=timeout)
        """
    ),
    code("%harvest dag graph {dag_run.run_id}"),
    md(
        """
        ## 4. SQL over histories

        `%harvest load` copies the histories into DuckDB on this machine; then any question
        is a query. Here: each DAG node's attempts, failures and median time.
        """
    ),
    code("%harvest load"),
    code(
        """
        %%harvest sql
        SELECT node, count(*) AS attempts,
               count(*) FILTER (WHERE outcome <> 'completed') AS failed,
               round(quantile_cont(run_ms, 0.5)) AS p50_ms
        FROM attempts GROUP BY node ORDER BY node
        """
    ),
    md(
        """
        ## 5. A simulation

        What would ten thousand runs of the DAG take on one worker with four slots, at the
        durations seen so far? And if `transform` were twice as fast?
        """
    ),
    code(
        """
        sim = hs.simulate(nightly, runs=10_000, durations="history", workers=1, slots=4)
        sim
        """
    ),
    code('sim.compare(faster={"transform": 0.5})'),
    md(
        """
        ## Where next

        * The sidebar's filter box takes the filter language, for instance
          `status = "FAILED"` or `workflow_type = "onboarding" AND status = "COMPLETED"`.
        * The command palette (**Ctrl+Shift+C**, then type *Harvest*) opens a run by id and
          starts a worker in a notebook's kernel.
        * `01_quickstart.ipynb` to `05_analysis.ipynb` go deeper; `harvest --help` has the
          same commands for a terminal.
        """
    ),
    code("%harvest worker stop"),
]
