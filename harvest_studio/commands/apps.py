"""Loading a worker module (``harvest worker MODULE``) and collecting its definitions."""

from __future__ import annotations

import importlib
import sys

from ..model.definitions import ActivityDefinition, WorkflowDefinition
from ..model.schedules import ScheduleDeclaration
from .errors import AppLoadError
from .results import App


def load_app(module: str, *, search_cwd: bool = True) -> App:
    """Import ``module`` and collect every workflow, activity and schedule
    (``hs.Schedule.make(...)``) among its attributes.

    With ``search_cwd`` the current directory is put on ``sys.path`` first, so
    ``harvest worker app`` finds ``./app.py`` as ``python -m`` would.
    """
    if search_cwd and "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise AppLoadError(f"cannot import {module!r}: {exc}") from None
    except Exception as exc:
        raise AppLoadError(
            f"importing {module!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    workflows: dict[str, WorkflowDefinition] = {}
    activities: dict[str, ActivityDefinition] = {}
    schedules: dict[str, ScheduleDeclaration] = {}
    for value in vars(mod).values():
        if isinstance(value, WorkflowDefinition):
            workflows.setdefault(value.name, value)
        elif isinstance(value, ActivityDefinition):
            activities.setdefault(value.name, value)
        elif isinstance(value, ScheduleDeclaration):
            schedules.setdefault(value.name, value)
    if not workflows and not activities:
        raise AppLoadError(f"module {module!r} defines no @workflow or @activity")
    return App(
        module, list(workflows.values()), list(activities.values()), list(schedules.values())
    )
