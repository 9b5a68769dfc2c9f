"""The operations part of the ``harvest`` command line: ``audit``, ``token``, ``workers``,
``dlq`` and ``serve``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from .. import commands
from ..client import DELIVERY_STATES, DLQ_KINDS, HOOK_EVENTS, TOKEN_SCOPES
from ..commands.argtypes import positive_int
from ..tools.archive import ARCHIVE_FORMATS
from .handlers_dead_letters import (
    _cmd_dlq_discard,
    _cmd_dlq_group,
    _cmd_dlq_list,
    _cmd_dlq_replay,
    _cmd_dlq_show,
)
from .handlers_operations import (
    _cmd_audit,
    _cmd_hooks,
    _cmd_purge,
    _cmd_serve,
    _cmd_token_create,
    _cmd_token_list,
    _cmd_token_revoke,
    _cmd_workers,
)

Command = Callable[..., argparse.ArgumentParser]


def _but_namespace() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--database-url", metavar="URL", default=argparse.SUPPRESS,
                        help="PostgreSQL URL (default: $HARVEST_DATABASE_URL, else embedded)")
    parent.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print JSON")
    return parent


def operations_commands(sub: Any, command: Command) -> None:
    p = command("audit", "the audit trail: who changed what, through which front end, and how "
                         "it ended (newest first)", _cmd_audit)
    p.add_argument("--run", metavar="REF", help="rows about one run (workflow id or run id)")
    p.add_argument("--target", metavar="NAME", help="rows about a schedule, queue, token, ...")
    p.add_argument("--actor", metavar="NAME", help="rows of one actor (an OS user, token:NAME)")
    p.add_argument("--action", metavar="ACTION",
                   help="one action (run.cancel) or a family ending in '.' (run.)")
    p.add_argument("--since", metavar="WHEN", help="an age like 1d or 2h, or an ISO time")
    p.add_argument("--before", type=positive_int, metavar="SEQ",
                   help="rows older than this one (the next page)")
    p.add_argument("--limit", type=positive_int, default=commands.AUDIT_PAGE, metavar="N",
                   help=f"at most N rows (default {commands.AUDIT_PAGE})")
    p.add_argument("--all-namespaces", action="store_true",
                   help="every namespace (default: --namespace)")

    token = sub.add_parser("token", help="API tokens of `harvest serve`",
                           description="API tokens of `harvest serve`")
    actions = token.add_subparsers(dest="token_command", metavar="ACTION", required=True)
    # Here --namespace is the namespace the token is limited to, so this command takes the
    # other global options but not that one.
    about = "make a token and print its secret (shown only this once)"
    p = actions.add_parser("create", help=about, description=about, parents=[_but_namespace()])
    p.set_defaults(handler=_cmd_token_create)
    p.add_argument("--name", required=True, metavar="NAME", help="who uses it, e.g. ci-bot")
    p.add_argument("--scope", required=True, choices=TOKEN_SCOPES,
                   help="read < operate (change runs) < admin (tokens, purge, drain)")
    p.add_argument("--namespace", dest="token_namespace", metavar="NS",
                   help="limit the token to one namespace (default: all)")
    p = command("list", "the tokens (never their secrets), with their last use",
                _cmd_token_list, actions)
    p.add_argument("--all", action="store_true", help="also revoked tokens")
    p = command("revoke", "revoke a token: its next request is refused", _cmd_token_revoke,
                actions)
    p.add_argument("ref", metavar="NAME_OR_ID")

    p = command("workers", "worker processes: list them (state running, draining or gone), or "
                           "drain one before a deploy", _cmd_workers)
    p.add_argument("action", nargs="?", choices=["list", "drain"], default="list")
    p.add_argument("worker_id", nargs="?", metavar="WORKER_ID", help="with drain: which worker")
    p.add_argument("--all", action="store_true", help="with list: also workers that are gone")

    _dlq_commands(sub, command)
    _hooks_commands(sub, command)

    p = command("purge", "remove ended runs with their histories (archived first with "
                         "--archive); running runs are never touched", _cmd_purge)
    p.add_argument("--ended-before", metavar="WHEN",
                   help="an age like 30d, or an ISO time (default: each namespace's "
                        "retention, see `namespace retention`)")
    p.add_argument("--archive", metavar="DIR", help="write each batch here before deleting it")
    p.add_argument("--format", choices=ARCHIVE_FORMATS, default="jsonl",
                   help="archive files: jsonl (default) or parquet (needs the analysis extra)")
    p.add_argument("--all-namespaces", action="store_true",
                   help="every namespace (default: --namespace)")
    p.add_argument("--dry-run", action="store_true", help="only count what would go")

    p = command("serve", "serve the HTTP API (under /api/v1) and the dashboard (under /ui)",
                _cmd_serve)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=positive_int, default=8233, help="port (default 8233)")
    p.add_argument("--log-level", default="info",
                   choices=["debug", "info", "warning", "error"])


def _dlq_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fingerprint", metavar="HEX", help="one group (see `dlq group`)")
    p.add_argument("--kind", choices=DLQ_KINDS,
                   help="quarantined tasks or runs that failed on an exhausted activity")
    p.add_argument("--workflow-type", metavar="NAME", help="runs of this workflow type")
    p.add_argument("--type", dest="type_name", metavar="NAME",
                   help="failures in this activity (or workflow) type")
    p.add_argument("--since", metavar="WHEN", help="an age like 1d, or an ISO time")


def _dlq_commands(sub: Any, command: Command) -> None:
    about = ("dead letters: tasks quarantined for crashing their workers, and runs that "
             "failed on an activity whose retries ran out")
    group = sub.add_parser("dlq", help=about, description=about)
    actions = group.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    p = command("list", "open dead letters, newest first", _cmd_dlq_list, actions)
    _dlq_filters(p)
    p.add_argument("--limit", type=positive_int, default=100, metavar="N")
    p = command("show", "one dead letter: the error, its attempts, the last heartbeat",
                _cmd_dlq_show, actions)
    p.add_argument("id", metavar="ID", help="dl-N or run-<run id>")
    p = command("group", "open dead letters folded by error fingerprint (type, message, "
                         "where), the biggest group first", _cmd_dlq_group, actions)
    _dlq_filters(p)
    for verb, handler, help in (
        ("replay", _cmd_dlq_replay, "queue quarantined tasks again with a fresh attempt "
                                    "budget; retry failed runs from their failed activity"),
        ("discard", _cmd_dlq_discard, "put dead letters aside with a reason"),
    ):
        p = command(verb, help, handler, actions)
        p.add_argument("ids", nargs="*", metavar="ID", help="dl-N or run-<run id>")
        _dlq_filters(p)
        p.add_argument("--all", action="store_true", help="every open dead letter")
        p.add_argument("--dry-run", action="store_true", help="only say which ones")
        if verb == "replay":
            p.add_argument("--note", metavar="TEXT", help="kept with the letter")
        else:
            p.add_argument("--reason", required=True, metavar="TEXT")


def _hooks_commands(sub: Any, command: Command) -> None:
    about = "webhooks: a signed POST for each run that ends (or misses its SLA)"
    group = sub.add_parser("hooks", help=about, description=about)
    actions = group.add_subparsers(dest="hooks_command", metavar="ACTION", required=True)
    p = command("add", "subscribe a URL (prints the signing secret once)", _cmd_hooks, actions)
    p.add_argument("name", metavar="NAME")
    p.add_argument("--url", required=True, help="http(s) URL to POST to")
    p.add_argument("--event", action="append", choices=HOOK_EVENTS,
                   help="repeatable (default run.ended: every end)")
    p.add_argument("--workflow-type", metavar="NAME", help="only runs of this type")
    p.add_argument("--sla", metavar="DURATION", help="with --event run.sla_missed, e.g. 10m")
    command("list", "the webhooks, with pending and failed deliveries", _cmd_hooks, actions)
    p = command("remove", "remove a webhook and its delivery log", _cmd_hooks, actions)
    p.add_argument("name", metavar="NAME")
    p = command("deliveries", "the delivery log, newest first", _cmd_hooks, actions)
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--state", choices=DELIVERY_STATES)
    p.add_argument("--limit", type=positive_int, default=50, metavar="N")
