"""Run a worker process for crash tests: ``python -m tests.apps.run_worker MODULE``.

Serves every definition found in MODULE with the short test intervals, until killed.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys

import harvest_studio as hs
from tests.conftest import FAST


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    module = importlib.import_module(sys.argv[1])
    values = list(vars(module).values())
    worker = hs.Worker(
        workflows=[v for v in values if isinstance(v, hs.WorkflowDefinition)],
        activities=[v for v in values if isinstance(v, hs.ActivityDefinition)],
        schedules=[v for v in values if isinstance(v, hs.Schedule)],
        **FAST,
    )
    asyncio.run(worker.run())


if __name__ == "__main__":
    main()
