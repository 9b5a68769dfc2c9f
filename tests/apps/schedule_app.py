"""A 1-second schedule served by several worker processes (the scheduler chaos test).

``HARVEST_TEST_SLOTS_FROM`` (ISO) and ``HARVEST_TEST_SLOTS`` say when its slots begin and
how many there are, the same in every process."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import harvest_studio as hs


@hs.workflow
async def beat(ctx: hs.WorkflowContext, slot: str) -> str:
    return slot


_FROM = datetime.fromisoformat(os.environ.get("HARVEST_TEST_SLOTS_FROM", "2026-01-01T00:00:00Z"))
_COUNT = int(os.environ.get("HARVEST_TEST_SLOTS", "10"))

every_second = hs.Schedule.make(
    "chaos-beat", "beat", ["{slot}"], every=1, anchor=_FROM, start_at=_FROM,
    end_at=_FROM + timedelta(seconds=_COUNT - 1), overlap="allow_all", catchup="all",
)
