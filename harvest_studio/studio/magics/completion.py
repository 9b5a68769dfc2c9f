"""Tab completion after ``%harvest``: subcommands and their actions, options and their
choices, workflow names, activity names, schedule names and run ids (recent runs and the
schedules are read at most every ``completion_cache_seconds``)."""

from __future__ import annotations

import argparse
import re
import time
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from IPython.core.completer import CompletionContext, SimpleCompletion, SimpleMatcherResult

from ... import commands
from ...client import Client, RunPage
from ...model.schedules import CATCHUP_POLICIES, OVERLAP_POLICIES
from .context import MagicsContext
from .parser import (
    ACTION_SUBPARSERS,
    REF_COMMANDS,
    SCHEDULE_NAMED,
    SUBPARSERS,
    WORKER_ACTIONS,
)

# `dag ACTION` whose first positional argument is a run
DAG_REF_ACTIONS = ("dag show", "dag retry", "dag mark")


def remember_runs(magics: MagicsContext, runs: Sequence[Any]) -> None:
    known = {r[0] for r in magics.recent_runs}
    fresh = [(r.run_id, r.workflow_id, r.workflow_type) for r in runs if r.run_id not in known]
    magics.recent_runs = fresh + magics.recent_runs


def refresh_recent(magics: MagicsContext) -> None:
    """Refresh recent runs and registered workflow types, at most every
    ``completion_cache_seconds``, and only once a command opened the client (completion
    never starts a database)."""
    client = magics.opened_client
    if client is None:
        return
    now = time.monotonic()
    if magics.recent_at and now - magics.recent_at < magics.completion_cache_seconds:
        return
    magics.recent_at = now
    try:
        page: RunPage = client._run(commands.list_runs(client.aio, limit=100), timeout=2.0)
        magics.recent_runs = [(r.run_id, r.workflow_id, r.workflow_type) for r in page.runs]
        magics.recent_types = client._run(_registered_types(client), timeout=2.0)
        magics.recent_schedules = client._run(_schedule_names(client), timeout=2.0)
    except Exception:
        pass  # completion must never fail; try again after the cache period


def workflow_names(magics: MagicsContext) -> list[str]:
    magics.versions.scan(magics.user_ns)
    refresh_recent(magics)
    names = set(magics.versions.workflow_names()) | set(magics.recent_types)
    names |= {t for _, _, t in magics.recent_runs}
    return sorted(names)


def schedule_names(magics: MagicsContext) -> list[str]:
    refresh_recent(magics)
    return list(magics.recent_schedules)


def refs(magics: MagicsContext) -> list[str]:
    refresh_recent(magics)
    out: list[str] = []
    for run_id, workflow_id, _ in magics.recent_runs:
        out.append(run_id)
        if workflow_id != run_id:
            out.append(workflow_id)
    return list(dict.fromkeys(out))


def candidates(
    magics: MagicsContext, words: list[str], current: str
) -> tuple[str, list[tuple[str, str]]]:
    """What may replace ``current`` (the word under the cursor) after ``words``.

    Returns the typed text the candidates extend and ``(text, type)`` pairs.
    """
    if not words:
        return current, [(name, "command") for name in SUBPARSERS]
    parser = SUBPARSERS.get(words[0])
    if parser is None:
        return current, []
    command, rest = words[0], words[1:]
    actions = ACTION_SUBPARSERS.get(command)
    if actions is not None:  # `queue pause ...`: the action, then as for a command
        if not rest:
            return current, [] if current.startswith("-") else [
                (a, "action") for a in actions
            ]
        parser = actions.get(rest[0])
        if parser is None:
            return current, []
        command, rest = f"{command} {rest[0]}", rest[1:]
    options = _option_actions(parser)
    if current.startswith("--") and "=" in current:
        option, _, value = current.partition("=")
        return value, _option_values(magics, command, options.get(option))
    if current.startswith("-"):
        return current, [(o, "option") for o in options if o.startswith("--")]
    previous = options.get(rest[-1]) if rest else None
    if previous is not None and previous.nargs != 0:
        return current, _option_values(magics, command, previous)
    index = _positional_index(rest, options)
    if command in ("activity pause", "activity resume", "activity limit") and index == 0:
        magics.versions.scan(magics.user_ns)
        return current, [(n, "activity") for n in magics.versions.activity_names()]
    if command == "worker" and index == 0:
        return current, [(a, "action") for a in WORKER_ACTIONS]
    if command == "start" and index == 0:
        return current, [(n, "workflow") for n in workflow_names(magics)]
    if command in DAG_REF_ACTIONS and index == 0:
        return current, [(r, "run") for r in refs(magics)]
    if command == "dag runs" and index == 0:
        return current, [(n, "dag") for n in workflow_names(magics)]
    if command == "dag graph" and index == 0:
        names = [(n, "dag") for n in workflow_names(magics)]
        return current, names + [(r, "run") for r in refs(magics)]
    if command in {f"schedule {a}" for a in SCHEDULE_NAMED} and index == 0:
        return current, [(n, "schedule") for n in schedule_names(magics)]
    if command in REF_COMMANDS and index == 0:
        return current, [(r, "run") for r in refs(magics)]
    if command == "sql" and magics.history_db is not None:  # the loaded tables' names
        tables = magics.history_db.tables()
        columns = dict.fromkeys(c for cols in tables.values() for c in cols)
        return current, [(t, "table") for t in tables] + [(c, "column") for c in columns]
    return current, []


def _option_values(
    magics: MagicsContext, command: str, action: argparse.Action | None
) -> list[tuple[str, str]]:
    if action is None or action.nargs == 0:
        return []
    if action.choices:
        return [(str(c), "choice") for c in action.choices]
    if action.dest == "type" or (
        command in ("start", "schedule create") and action.dest == "workflow"
    ):
        return [(n, "workflow") for n in workflow_names(magics)]
    if action.dest == "timezone":
        return [(z, "timezone") for z in sorted(zoneinfo.available_timezones())]
    if action.dest == "overlap":
        return [(p, "overlap policy") for p in OVERLAP_POLICIES]
    if action.dest == "catchup":
        return [(p, "catch-up policy") for p in (*CATCHUP_POLICIES, "window:")]
    if action.dest in ("rate", "burst", "max_concurrent"):
        return [("none", "lift the limit")]
    if action.dest == "status":
        return [(s, "status") for s in commands.RUN_STATUSES]
    if action.dest == "workflow_id":
        refresh_recent(magics)
        return [(w, "workflow id") for w in dict.fromkeys(w for _, w, _ in magics.recent_runs)]
    return []


def complete(magics: MagicsContext, context: CompletionContext) -> SimpleMatcherResult:
    """IPython matcher: subcommands, options, workflow names and run ids after
    ``%harvest`` (also on the first line of a ``%%harvest`` cell)."""
    line = context.text_until_cursor
    found = re.match(r"\s*%{1,2}harvest(?=\s|$)", line)
    if found is None:
        return {"completions": [], "suppress": False}
    rest = line[found.end():]
    if not rest:
        return {"completions": [], "suppress": False}
    words = rest.split()
    current = "" if rest[-1].isspace() else words.pop()
    try:
        typed, pairs = candidates(magics, words, current)
    except Exception:
        return {"completions": [], "suppress": False}
    token = context.token
    cut = len(typed) - len(token)
    if cut < 0 or not typed.endswith(token):
        return {"completions": [], "suppress": False}
    completions = [
        SimpleCompletion(text[cut:], type=kind)
        for text, kind in pairs
        if text.startswith(typed)
    ]
    return {"completions": completions, "suppress": True, "ordered": True}


def _option_actions(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        option: action
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--")
    }


def _positional_index(words: Sequence[str], options: Mapping[str, argparse.Action]) -> int:
    """How many positional arguments ``words`` (after the subcommand) already hold."""
    index = 0
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word.startswith("-"):
            action = options.get(word)
            skip = action is not None and action.nargs != 0 and "=" not in word
            continue
        index += 1
    return index


async def _registered_types(client: Client) -> list[str]:
    return await client.aio.registered_workflows()


async def _schedule_names(client: Client) -> list[str]:
    return [s.name for s in await client.aio.schedules()]
