"""The replay gate in pytest: export histories once (``harvest export --histories
tests/histories``), commit them, and every later change to the workflows is replayed
against them::

    from harvest_studio.testing import assert_replays
    import billing

    def test_billing_still_replays_production_runs():
        assert_replays("tests/histories", billing)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from ..model.definitions import WorkflowDefinition
from ..tools.replay_check import ReplayCheckReport, replay_files


def assert_replays(
    histories: str | Path,
    workflows: ModuleType | Sequence[WorkflowDefinition] | WorkflowDefinition,
) -> ReplayCheckReport:
    """Replay every exported history under ``histories`` of the workflow types that
    ``workflows`` (a module, or definitions) define; ``AssertionError`` listing each run
    that diverges, with its first mismatching command. Returns the report otherwise."""
    if isinstance(workflows, ModuleType):
        found = [v for v in vars(workflows).values() if isinstance(v, WorkflowDefinition)]
    elif isinstance(workflows, WorkflowDefinition):
        found = [workflows]
    else:
        found = list(workflows)
    if not found:
        raise AssertionError(f"no workflow definitions in {workflows!r}")
    report = replay_files(histories, found)
    if not report.clean:
        raise AssertionError("stored histories no longer replay:\n" + str(report))
    return report
