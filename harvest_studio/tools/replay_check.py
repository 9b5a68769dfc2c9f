"""``harvest replay-check MODULE``: replay the stored histories of the workflow types a module
defines against the module's code as it is now, and list every run the code would no longer
replay (its first mismatching command). A gate for CI: exit 1 on any divergence, so a
change that would block production runs does not land."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..client import AsyncClient, Client
from ..commands.inputs import parse_time
from ..model.definitions import WorkflowDefinition
from ..model.errors import UsageError
from .replay import ReplayReport, areplay_run, describe_command

PAGE = 500


@dataclass
class ReplayCheckReport:
    """Runs replayed per workflow type, and the ones that diverged."""

    types: list[str]
    checked: int = 0
    diverged: list[ReplayReport] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.diverged

    def to_json(self) -> dict[str, Any]:
        return {
            "types": self.types,
            "checked": self.checked,
            "diverged": [r.to_json() for r in self.diverged],
        }

    def __str__(self) -> str:
        lines = []
        for r in self.diverged:
            where = r.headline()
            if r.seq is not None:
                where += (
                    f": history has {describe_command(r.expected)}, the code now issues "
                    f"{describe_command(r.actual)}"
                )
            elif r.message:
                where += f": {r.message}"
            run = f"{r.workflow_type} {r.workflow_id} (run {r.run_id}, {r.status})"
            lines.append(f"{run} {where}")
        lines.append(
            f"{self.checked} run(s) of {', '.join(self.types) or 'no workflow type'} replayed: "
            + ("all replay cleanly" if self.clean else f"{len(self.diverged)} diverge")
        )
        return "\n".join(lines)


async def areplay_check(
    client: AsyncClient,
    workflows: Sequence[WorkflowDefinition],
    *,
    since: datetime | str | None = None,
    types: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
) -> ReplayCheckReport:
    """Replay the runs of ``workflows`` (only ``types`` of them if given) started since
    ``since`` against those definitions; with ``sample``, at most that many runs per type,
    chosen at random (``seed``) among them."""
    by_type = {w.name: w for w in workflows}
    unknown = sorted(set(types) - set(by_type))
    if unknown:
        raise UsageError(f"replay-check: the module defines no workflow {', '.join(unknown)}")
    if sample is not None and sample < 1:
        raise UsageError("replay-check: --sample must be at least 1")
    chosen = [t for t in by_type if not types or t in types]
    after = None if since is None else parse_time(since)
    report = ReplayCheckReport(types=chosen)
    rng = random.Random(seed)
    for workflow_type in chosen:
        run_ids: list[str] = []
        token: str | None = None
        while True:
            page = await client.list(
                workflow_type=workflow_type, started_after=after, limit=PAGE, page_token=token
            )
            run_ids += [r.run_id for r in page.runs]
            token = page.next_page_token
            if token is None:
                break
        if sample is not None and len(run_ids) > sample:
            run_ids = rng.sample(run_ids, sample)
        for run_id in run_ids:
            replayed = await areplay_run(client, run_id, by_type[workflow_type])
            report.checked += 1
            if not replayed.ok:
                report.diverged.append(replayed)
    return report


def replay_check(
    client: Client, workflows: Sequence[WorkflowDefinition], **options: Any
) -> ReplayCheckReport:
    """:func:`areplay_check` for the sync client."""
    result: ReplayCheckReport = client._run(areplay_check(client.aio, workflows, **options))
    return result
