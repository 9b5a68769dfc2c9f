"""The model: plain values every layer speaks in, with no database and no I/O.

Workflow and activity definitions (``@workflow``, ``@activity``), the closed, versioned set
of history events, durations, retry policies, payload serialisation, typed errors, the
run-filter parser, and reset points. The lowest layer: it imports nothing of the project.
"""
