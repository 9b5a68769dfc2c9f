"""The ``harvest`` entry point: parse, run the handler, and turn errors into exit codes and
one-line messages on stderr."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

import psycopg

from ..model.errors import HarvestError, UsageError
from .common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _error
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``harvest`` command line; returns the exit code."""
    return _main(argv)


def _check_utf8(words: Sequence[str]) -> None:
    """Refuse an argument that is not valid UTF-8 (the shell passed bytes Python could only
    keep as surrogates): nothing could store or find it."""
    for position, word in enumerate(words, start=1):
        try:
            word.encode("utf-8")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "backslashreplace").decode()
            raise UsageError(f"argument {position} is not valid UTF-8: {shown!r}") from None


def _main(argv: Sequence[str] | None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in words
    parser = build_parser()
    if not words:  # `harvest` alone: what it can do
        parser.print_help()
        return EXIT_OK
    try:
        _check_utf8(words)
        args = parser.parse_args(words)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        _error(exc.code, str(exc), as_json=as_json)
        return EXIT_USAGE
    except HarvestError as exc:
        _error(exc.code, str(exc), as_json=as_json)
        return EXIT_FAILURE
    except psycopg.OperationalError as exc:
        _error("database_unavailable", str(exc), as_json=as_json)
        return EXIT_FAILURE
    except psycopg.Error as exc:
        _error("database_error", str(exc), as_json=as_json)
        return EXIT_FAILURE
    except BrokenPipeError:
        # the reader went away (`harvest list | head -1`): stop quietly, as other tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        _error("interrupted", "interrupted", as_json=as_json)
        return EXIT_INTERRUPTED
