"""The ``harvest`` command line: an argparse front end over the command layer
(:mod:`harvest_studio.commands`), plus ``harvest demo`` (:mod:`.demo`).

Output is a human table by default and JSON with ``--json`` (accepted before or after the
subcommand). Exit codes: 0 ok, 1 failure (including a run that ended badly when waited
for), 2 usage (argparse errors and every :class:`~harvest_studio.UsageError`). An error is
one line on stderr: ``harvest: error: <code>: <message>``. Input is checked before the
database is touched, so bad input writes nothing.
"""

from __future__ import annotations

from .common import CommandLineError
from .entry import main
from .parser import build_parser

__all__ = ["CommandLineError", "build_parser", "main"]
