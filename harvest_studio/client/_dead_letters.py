"""Dead letters from the client: list, show, replay and discard the tasks quarantined for
crashing their workers and the runs that failed on an activity whose retries ran out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import store
from ..model.errors import HarvestError, UsageError
from ..model.fingerprints import Fingerprint, fingerprint
from ..model.limits import check_text
from ._audit import audited
from ._operations import OperationsClient
from ._retry import retried

DLQ_KINDS = ("quarantined", "failed_run")
MAX_BATCH = 1000


class DeadLetterNotFoundError(HarvestError):
    """No open dead letter with that id (it never was, or it was replayed or discarded)."""

    code = "dead_letter_not_found"


@dataclass(frozen=True)
class DeadLetter:
    """One failure waiting for an operator. ``id`` is ``dl-N`` for a quarantined task and
    ``run-<run id>`` for a failed run; ``error`` is the failure as recorded (``type``,
    ``message``, ``traceback``), ``fingerprint`` groups it with its kind."""

    id: str
    kind: str
    run_id: str
    workflow_id: str
    workflow_type: str
    type_name: str
    task_kind: str
    error: dict[str, Any]
    attempts: int
    heartbeat_details: Any
    activity_seq: int | None
    created_at: datetime
    resolution: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_note: str | None
    new_run_id: str | None
    fingerprint: Fingerprint = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fingerprint", fingerprint(self.error))

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if k != "fingerprint"}
        for key in ("created_at", "resolved_at"):
            if data[key] is not None:
                data[key] = data[key].isoformat()
        data["fingerprint"] = self.fingerprint.__dict__
        return data


@dataclass(frozen=True)
class DlqOutcome:
    """What ``replay`` or ``discard`` did: the letters acted on, for each replayed failed run
    the new run, the letters that were no longer open, and those that could not be acted
    on (with the error: the others went ahead)."""

    action: str
    done: list[str]
    new_runs: dict[str, str]
    skipped: list[str]
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def audit_touched(self) -> list[str]:
        return self.done

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _letter_target(values: dict[str, Any], result: Any) -> str | None:
    ids = list(values.get("ids") or ())
    return ids[0] if len(ids) == 1 else f"{len(ids)} dead letters"


def _check_ids(ids: Sequence[str]) -> list[str]:
    if isinstance(ids, str):
        ids = [ids]
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise UsageError("no dead letters to act on")
    if len(wanted) > MAX_BATCH:
        raise UsageError(f"at most {MAX_BATCH} dead letters at once")
    for one in wanted:
        check_text("a dead letter id", one, 500)
        number = one[3:]
        if not (one.startswith("dl-") and number.isascii() and number.isdigit()) and not (
                one.startswith("run-") and len(one) > 4):
            raise UsageError(f"not a dead letter id: {one!r} (dl-N or run-<run id>)")
    return wanted


class DeadLettersClient(OperationsClient):
    """Dead letters (mixed into :class:`AsyncClient`)."""

    @retried(True)
    async def dead_letters(
        self,
        *,
        kind: str | None = None,
        workflow_type: str | None = None,
        type_name: str | None = None,
        since: datetime | None = None,
        include_resolved: bool = False,
        limit: int = MAX_BATCH,
    ) -> list[DeadLetter]:
        """Open dead letters, newest first: tasks quarantined after crashing their workers
        (``kind="quarantined"``) and runs that failed on an activity whose retries ran out
        (``kind="failed_run"``); ``type_name`` is the failing activity (or workflow) type."""
        if kind is not None and kind not in DLQ_KINDS:
            raise UsageError(f"unknown dead letter kind {kind!r}; use one of {DLQ_KINDS}")
        if not 1 <= limit <= 100 * MAX_BATCH:
            raise UsageError(f"limit must be 1..{100 * MAX_BATCH}")
        async with self.pool.connection() as conn:
            rows = await store.list_dead_letters(
                conn, self.namespace, kind=kind, workflow_type=workflow_type,
                type_name=type_name, since=since, include_resolved=include_resolved,
                limit=limit,
            )
        return [DeadLetter(**row) for row in rows]

    @retried(True)
    async def dead_letter(self, letter_id: str) -> tuple[DeadLetter, list[dict[str, Any]]]:
        """One dead letter (open or resolved) and the failures of its activity's attempts
        (for a failed run; a quarantined task's last error is on the letter)."""
        [letter_id] = _check_ids([letter_id])
        async with self.pool.connection() as conn:
            rows = await store.list_dead_letters(
                conn, self.namespace, include_resolved=True, letter_id=letter_id, limit=1
            )
            if not rows:
                raise DeadLetterNotFoundError(f"no dead letter {letter_id!r}")
            letter = DeadLetter(**rows[0])
            failures = []
            if letter.kind == "failed_run" and letter.activity_seq is not None:
                for event in await store.attempt_failures(
                    conn, letter.run_id, letter.activity_seq
                ):
                    failures.append({"seq": event["seq"], "at": event["at"],
                                     "attempt": event["payload"].get("attempt"),
                                     "error": event["payload"].get("error")})
        return letter, failures

    @audited("dlq.replay", "dead_letter", _letter_target)
    async def replay_dead_letters(
        self, ids: Sequence[str], *, note: str | None = None
    ) -> DlqOutcome:
        """Replay dead letters: a quarantined task is queued again as a fresh task (a fresh
        attempt budget); a failed run is retried from its failed activity as a new run (the
        code running now does the rest). Letters no longer open are skipped."""
        wanted = _check_ids(ids)
        check_text("a note", note, 2000, optional=True)
        outcome = DlqOutcome("replay", [], {}, [])
        for letter_id in wanted:
            try:
                await self._replay_one(letter_id, note, outcome)
            except HarvestError as exc:  # this one could not; the others go ahead
                outcome.failed[letter_id] = f"{exc.code}: {exc}"[:500]
        return outcome

    async def _replay_one(self, letter_id: str, note: str | None, outcome: DlqOutcome) -> None:
        if letter_id.startswith("dl-"):
            async with self.pool.connection() as conn:
                task = await store.replay_quarantined(
                    conn, self.namespace, int(letter_id[3:]), self.caller_actor, note
                )
            (outcome.done if task is not None else outcome.skipped).append(letter_id)
            return
        run_id = letter_id[4:]
        if not await self._open_failed_run(letter_id):
            outcome.skipped.append(letter_id)
            return
        new_run = (await self.retry_failed_activity(run_id, reason=note)).new_run_id
        async with self.pool.connection() as conn:
            await store.triage_failed_run(
                conn, self.namespace, run_id, "replayed", self.caller_actor, note, new_run
            )
        outcome.done.append(letter_id)
        if new_run is not None:
            outcome.new_runs[letter_id] = new_run

    @audited("dlq.discard", "dead_letter", _letter_target)
    async def discard_dead_letters(self, ids: Sequence[str], *, reason: str) -> DlqOutcome:
        """Put dead letters aside with a ``reason`` (required). A discarded quarantined task
        leaves its run waiting (terminate the run if it should end); a discarded failed run
        stays failed and leaves the list."""
        wanted = _check_ids(ids)
        if not reason or not reason.strip():
            raise UsageError("discarding needs a reason")
        check_text("a reason", reason, 2000)
        outcome = DlqOutcome("discard", [], {}, [])
        for letter_id in wanted:
            try:
                changed = await self._discard_one(letter_id, reason)
            except HarvestError as exc:
                outcome.failed[letter_id] = f"{exc.code}: {exc}"[:500]
                continue
            (outcome.done if changed else outcome.skipped).append(letter_id)
        return outcome

    @retried(True)
    async def _discard_one(self, letter_id: str, reason: str) -> bool:
        async with self.pool.connection() as conn:
            if letter_id.startswith("dl-"):
                return await store.discard_quarantined(
                    conn, self.namespace, int(letter_id[3:]), self.caller_actor, reason
                )
            return await self._open_failed_run(letter_id) and (
                await store.triage_failed_run(
                    conn, self.namespace, letter_id[4:], "discarded", self.caller_actor, reason,
                )
            )

    @retried(True)
    async def _open_failed_run(self, letter_id: str) -> bool:
        async with self.pool.connection() as conn:
            rows = await store.list_dead_letters(
                conn, self.namespace, kind="failed_run", letter_id=letter_id, limit=1
            )
        return bool(rows)
