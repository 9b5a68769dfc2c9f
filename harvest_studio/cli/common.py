"""Shared pieces of the ``harvest`` command line: exit codes, :class:`CommandLineError`,
printing results (table or ``--json``) and one-line errors, and the client a command uses."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..client import AsyncClient
from ..commands.render import dumps
from ..model.errors import UsageError

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
PROG = "harvest"


class CommandLineError(UsageError):
    """The command line itself is malformed (unknown option, missing argument, ...)."""

    code = "usage_error"


# ---------------------------------------------------------------------------------------
# output helpers
# ---------------------------------------------------------------------------------------
def _print(text: str) -> None:
    print(text, flush=True)


def _emit(args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    _print(dumps(data) if args.json else render(data))


def _error(code: str, message: str, *, as_json: bool = False) -> None:
    """One line on stderr: ``harvest: error: CODE: message``, or with ``--json``
    ``{"code": ..., "message": ...}``."""
    one_line = " ".join(message.split())
    if as_json:
        print(json.dumps({"code": code, "message": one_line}), file=sys.stderr, flush=True)
    else:
        print(f"{PROG}: error: {code}: {one_line}", file=sys.stderr, flush=True)


async def _with_client(
    args: argparse.Namespace, action: Callable[[AsyncClient], Awaitable[T]]
) -> T:
    async with AsyncClient(
        args.database_url, namespace=args.namespace, front_end="cli"
    ) as client:
        return await action(client)

