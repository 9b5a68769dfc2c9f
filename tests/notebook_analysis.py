"""The cells of ``notebooks/05_analysis.ipynb`` (see tests/test_notebooks.py)."""

from __future__ import annotations

from .notebook_cells import PARAMETERS, SETUP, Cell, code, md

ANALYSIS: list[Cell] = [
    md(
        """
        # The analysis bench

        Every run's history is data. Load it into DuckDB in this notebook, ask it questions
        in SQL, see where one run's time went and which steps usually decide how long a run
        takes, then simulate ten thousand runs to answer *what if*: more slots, a faster
        step, another retry policy. Last, check the code for what would break replay.
        """
    ),
    PARAMETERS,
    SETUP,
    md(
        """
        ## A DAG with uneven steps

        The activities sleep for random times and `clean` fails one attempt in five, so the
        histories have something to tell.
        """
    ),
    code(
        """
        import asyncio
        import random

        quick_retry = hs.RetryPolicy(max_attempts=6, initial_interval=0.05)


        @hs.activity(retry=quick_retry)
        async def fetch(ctx, source):
            await asyncio.sleep(random.uniform(0.02, 0.08))
            return list(range(random.randint(2, 4)))


        @hs.activity(retry=quick_retry)
        async def clean(ctx, rows):
            await asyncio.sleep(random.uniform(0.05, 0.2))
            if random.random() < 0.2:
                raise ConnectionError("the upstream dropped the connection")
            return len(rows)


        @hs.activity(retry=quick_retry)
        async def enrich(ctx, rows):
            await asyncio.sleep(random.uniform(0.02, 0.3))
            return len(rows)


        @hs.activity(retry=quick_retry)
        async def score(ctx, row):
            await asyncio.sleep(random.uniform(0.02, 0.06))
            return row


        @hs.activity(retry=quick_retry)
        async def publish(ctx, cleaned, enriched, scores):
            await asyncio.sleep(0.03)
            return f"published {cleaned} rows"


        @hs.dag
        def nightly(d):
            rows = d.task(fetch, "orders")
            cleaned = d.task(clean, rows)
            enriched = d.task(enrich, rows)
            scores = d.map(score, over=rows, max_parallel=2)
            d.task(publish, cleaned, enriched, scores)
        """
    ),
    code("%harvest worker start"),
    md("Forty runs, ten at a time, make a history to study:"),
    code(
        """
        client = hs.connect(database_url)
        finished = []
        for wave in range(4):
            runs = [client.start(nightly) for _ in range(10)]
            finished += [run for run in runs if run.result(timeout=timeout)]
        print(f"{len(finished)} runs finished")
        """
    ),
    md(
        """
        ## Load

        `%harvest load` copies the namespace's runs and events into DuckDB (in memory;
        `--file` keeps them). A second load copies only what is new.
        """
    ),
    code("%harvest load"),
    md(
        """
        ## Ask in SQL

        The tables are `runs`, `events`, `attempts`, `timers`, `signals` and `dag_nodes`,
        with ready-made views such as `run_durations` and `queue_waits`.
        """
    ),
    code(
        """
        %%harvest sql
        SELECT node, count(*) AS attempts,
               round(quantile_cont(run_ms, 0.5)) AS p50_ms,
               round(quantile_cont(run_ms, 0.95)) AS p95_ms,
               count(*) FILTER (WHERE outcome <> 'completed') AS failed
        FROM attempts GROUP BY node ORDER BY p95_ms DESC
        """
    ),
    md("Values come from the notebook as parameters (`:name`), never pasted into the SQL:"),
    code("slow_ms = 150"),
    code(
        """
        %%harvest sql -o slow
        SELECT run_id, node, attempt, run_ms FROM attempts
        WHERE run_ms > :slow_ms ORDER BY run_ms DESC LIMIT 5
        """
    ),
    code("slow.head(3)"),
    md(
        """
        ## Where the time went

        One run's critical path (the chain of steps that decided its end) and its time by
        kind; then, across every loaded run, the steps most often on that path.
        """
    ),
    code("prof = %harvest profile {finished[0].run_id}\nprof"),
    code("prof.breakdown"),
    code("%harvest profile --type nightly"),
    md(
        """
        ## Simulate, then ask *what if*

        Ten thousand runs drawn from the histories (each node's durations and failures,
        the map's item counts, the engine's own latencies), on one worker with 4 slots.
        `compare` re-runs it with one thing changed and the same random numbers.
        """
    ),
    code(
        """
        sim = hs.simulate(nightly, runs=10_000, durations="history", workers=1, slots=4)
        sim
        """
    ),
    code("sim.compare(faster={'enrich': 0.5})"),
    code("sim.compare(retry=hs.RetryPolicy(max_attempts=1))"),
    md(
        """
        ## Lint

        The workflows defined in this kernel, checked for what breaks replay and for DAG
        rules.
        """
    ),
    code("%harvest lint"),
    code("%harvest worker stop"),
]
