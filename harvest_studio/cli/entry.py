"""The ``harvest`` entry point: parse, run the handler, and turn errors into exit codes and
one-line messages on stderr."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import psycopg

from ..model.errors import HarvestError, UsageError
from .common import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, _error
from .parser import build_parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``harvest`` command line; returns the exit code."""
    return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except UsageError as exc:
        _error(exc.code, str(exc))
        return EXIT_USAGE
    except HarvestError as exc:
        _error(exc.code, str(exc))
        return EXIT_FAILURE
    except psycopg.OperationalError as exc:
        _error("database_unavailable", str(exc))
        return EXIT_FAILURE
    except psycopg.Error as exc:
        _error("database_error", str(exc))
        return EXIT_FAILURE
    except KeyboardInterrupt:
        _error("interrupted", "interrupted")
        return EXIT_INTERRUPTED
