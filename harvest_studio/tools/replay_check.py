"""``harvest replay-check MODULE``: replay the stored histories of the workflow types a module
defines against the module's code as it is now, and list every run the code would no longer
replay (its first mismatching command). A gate for CI: exit 1 on any divergence, so a
change that would block production runs does not land."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..client import AsyncClient, Client
from ..commands.inputs import parse_time
from ..model.definitions import WorkflowDefinition
from ..model.errors import UsageError
from ..model.events import HistoryEvent, decode
from .progress import progress
from .replay import ReplayReport, areplay_run, describe_command, replay_history

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


def _chosen(
    workflows: Sequence[WorkflowDefinition], types: Sequence[str]
) -> tuple[dict[str, WorkflowDefinition], list[str]]:
    """The definitions by type, and the types to replay (``types``, or every one)."""
    by_type = {w.name: w for w in workflows}
    unknown = sorted(set(types) - set(by_type))
    if unknown:
        raise UsageError(f"replay-check: the module defines no workflow {', '.join(unknown)}")
    return by_type, [t for t in by_type if not types or t in types]


async def areplay_check(
    client: AsyncClient,
    workflows: Sequence[WorkflowDefinition],
    *,
    since: datetime | str | None = None,
    types: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
    show: bool | None = None,
) -> ReplayCheckReport:
    """Replay the runs of ``workflows`` (only ``types`` of them if given) started since
    ``since`` against those definitions; with ``sample``, at most that many runs per type,
    chosen at random (``seed``) among them."""
    by_type, chosen = _chosen(workflows, types)
    if sample is not None and sample < 1:
        raise UsageError("replay-check: --sample must be at least 1")
    after = None if since is None else parse_time(since)
    report = ReplayCheckReport(types=chosen)
    rng = random.Random(seed)
    todo: list[tuple[str, str]] = []
    for workflow_type in chosen:
        run_ids = [run_id for run_id, _ in await _runs(client, workflow_type, after)]
        if sample is not None and len(run_ids) > sample:
            run_ids = rng.sample(run_ids, sample)
        todo += [(workflow_type, run_id) for run_id in run_ids]
    with progress(len(todo), "replaying", unit="run", show=show) as bar:
        for workflow_type, run_id in todo:
            replayed = await areplay_run(client, run_id, by_type[workflow_type])
            report.checked += 1
            if not replayed.ok:
                report.diverged.append(replayed)
            bar.update(1)
    return report


async def _runs(
    client: AsyncClient, workflow_type: str | None, after: datetime | None
) -> list[tuple[str, str]]:
    """``(run_id, workflow_type)`` of the runs of a type (every type: None) since ``after``."""
    found: list[tuple[str, str]] = []
    token: str | None = None
    while True:
        page = await client.list(
            workflow_type=workflow_type, started_after=after, limit=PAGE, page_token=token
        )
        found += [(r.run_id, r.workflow_type) for r in page.runs]
        token = page.next_page_token
        if token is None:
            return found


# ---------------------------------------------------------------------------------------
# history files: `harvest export --histories DIR`, `replay-check --histories DIR`
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistoriesExport:
    """What ``export_histories`` wrote: runs per workflow type, under ``directory``."""

    directory: str
    runs: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {"directory": self.directory, "runs": self.runs}

    def __str__(self) -> str:
        counts = ", ".join(f"{t} {n}" for t, n in self.runs.items()) or "no runs"
        return f"wrote {self.directory}: {counts}"


async def aexport_histories(
    client: AsyncClient,
    directory: Path,
    *,
    since: datetime | str | None = None,
    types: Sequence[str] = (),
    show: bool | None = None,
) -> HistoriesExport:
    """One JSON file per run, ``DIR/<workflow type>/<run id>.json``: the run's ids, status,
    code fingerprint and history (events as ``HistoryEvent.to_json`` gives them). Written
    beside ``directory`` and moved into place at the end."""
    from .analysis.exporting import check_target, staged_directory

    target = check_target(directory)
    after = None if since is None else parse_time(since)
    found: list[tuple[str, str]] = []
    wanted: list[str | None] = [*types] if types else [None]
    for workflow_type in wanted:
        found += await _runs(client, workflow_type, after)
    runs: dict[str, int] = {}
    with (staged_directory(target) as staging,
          progress(len(found), "exporting histories", unit="run", show=show) as bar):
        for run_id, workflow_type in found:
            folder = staging / workflow_type
            folder.mkdir(exist_ok=True)
            info = await client.describe(run_id)
            history = await client.history(run_id)
            document = {
                "run_id": info.run_id,
                "workflow_id": info.workflow_id,
                "workflow_type": info.workflow_type,
                "status": info.status,
                "fingerprint": info.fingerprint,
                "history": [e.to_json() for e in history],
            }
            (folder / f"{run_id}.json").write_text(json.dumps(document), encoding="utf-8")
            runs[workflow_type] = runs.get(workflow_type, 0) + 1
            bar.update(1)
    return HistoriesExport(str(target), runs)


def replay_files(
    directory: str | Path,
    workflows: Sequence[WorkflowDefinition],
    *,
    types: Sequence[str] = (),
    show: bool | None = None,
) -> ReplayCheckReport:
    """Replay the exported histories under ``directory`` (of the workflow types
    ``workflows`` define, or ``types``) against those definitions; no database."""
    root = Path(directory)
    if not root.is_dir():
        raise UsageError(f"replay-check: no directory {str(root)!r} of exported histories")
    by_type, chosen = _chosen(workflows, types)
    report = ReplayCheckReport(types=chosen)
    files = [(t, path) for t in chosen for path in sorted((root / t).glob("*.json"))]
    with progress(len(files), "replaying", unit="run", show=show) as bar:
        for workflow_type, path in files:
            try:
                doc = json.loads(path.read_text(encoding="utf-8"))
                history = [
                    HistoryEvent(e["seq"], datetime.fromisoformat(e["at"]),
                                 decode(e["type"], e["data"]))
                    for e in doc["history"]
                ]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise UsageError(
                    f"replay-check: {path} is not an exported history: {exc}"
                ) from None
            replayed = replay_history(
                history,
                by_type[workflow_type],
                run_id=doc["run_id"],
                workflow_id=doc["workflow_id"],
                workflow_type=workflow_type,
                status=doc["status"],
                fingerprint=doc.get("fingerprint"),
            )
            report.checked += 1
            if not replayed.ok:
                report.diverged.append(replayed)
            bar.update(1)
    return report


def export_histories(client: Client, directory: str | Path, **options: Any) -> HistoriesExport:
    """:func:`aexport_histories` for the sync client."""
    result: HistoriesExport = client._run(
        aexport_histories(client.aio, Path(directory), **options)
    )
    return result


def replay_check(
    client: Client, workflows: Sequence[WorkflowDefinition], **options: Any
) -> ReplayCheckReport:
    """:func:`areplay_check` for the sync client."""
    result: ReplayCheckReport = client._run(areplay_check(client.aio, workflows, **options))
    return result
