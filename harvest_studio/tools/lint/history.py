"""The history rules (HIS001-HIS004): what loaded runs show about their code (DuckDB SQL over
the analysis tables). Each finding names a run and the event where it shows."""

from __future__ import annotations

from typing import Any

from .findings import Finding

HISTORY_RULES: dict[str, tuple[str, str]] = {
    "HIS001": (
        "an activity needed 5 or more attempts",
        "look at failures_by_cause; fix the cause or tune its retry policy",
    ),
    "HIS002": (
        "a timer of zero seconds (a history event and a decision for nothing)",
        "skip the sleep when there is nothing to wait for",
    ),
    "HIS003": (
        "a payload over 1 MiB in history (every replay reads it)",
        "store the data elsewhere and pass a reference",
    ),
    "HIS004": (
        "3 or more runs of one activity type awaited one after another",
        "start them together with ctx.gather(...) if they do not depend on each other",
    ),
}
MAX_ATTEMPTS = 5
MAX_PAYLOAD = 1 << 20
SEQUENTIAL = 3

_QUERIES = {
    "HIS001": f"""
        SELECT a.run_id, r.workflow_type, a.scheduled_seq AS seq,
               a.activity_type || ': ' || max(a.attempt) || ' attempts' AS what
        FROM attempts a JOIN runs r USING (run_id)
        GROUP BY a.run_id, r.workflow_type, a.scheduled_seq, a.activity_type
        HAVING max(a.attempt) >= {MAX_ATTEMPTS}""",
    "HIS002": """
        SELECT t.run_id, r.workflow_type, t.seq, 'timer of ' || t.duration_s || ' s' AS what
        FROM timers t JOIN runs r USING (run_id) WHERE t.duration_s <= 0""",
    "HIS003": f"""
        SELECT e.run_id, r.workflow_type, e.seq,
               e.type || ' of ' || (strlen(CAST(e.payload AS VARCHAR)) // 1024) || ' KiB'
                   AS what
        FROM events e JOIN runs r USING (run_id)
        WHERE strlen(CAST(e.payload AS VARCHAR)) > {MAX_PAYLOAD}""",
    # a chain: each activity of the type scheduled after the one before it ended
    "HIS004": f"""
        WITH firsts AS (
            SELECT run_id, scheduled_seq, activity_type, scheduled_at,
                   max(ended_at) AS ended_at
            FROM attempts GROUP BY ALL
        ),
        steps AS (
            SELECT *, CASE WHEN scheduled_at >= lag(ended_at) OVER w THEN 0 ELSE 1 END
                      AS starts_chain
            FROM firsts WINDOW w AS (PARTITION BY run_id, activity_type ORDER BY scheduled_seq)
        ),
        chains AS (
            SELECT *, sum(starts_chain) OVER (PARTITION BY run_id, activity_type
                                              ORDER BY scheduled_seq) AS chain
            FROM steps
        )
        SELECT c.run_id, r.workflow_type, min(c.scheduled_seq) AS seq,
               c.activity_type || ': ' || count(*) || ' in a row' AS what
        FROM chains c JOIN runs r USING (run_id)
        GROUP BY c.run_id, r.workflow_type, c.activity_type, c.chain
        HAVING count(*) >= {SEQUENTIAL}""",
}


def check_history(con: Any) -> list[Finding]:
    """The history findings over the tables loaded in ``con`` (a DuckDB connection)."""
    findings: list[Finding] = []
    for code, query in _QUERIES.items():
        rule, hint = HISTORY_RULES[code]
        for run_id, workflow_type, seq, what in con.execute(query).fetchall():
            findings.append(
                Finding(code, f"run {run_id}", int(seq), 0, str(workflow_type),
                        f"{rule}: {what}", hint)
            )
    return sorted(findings, key=lambda f: (f.code, f.path, f.line))
