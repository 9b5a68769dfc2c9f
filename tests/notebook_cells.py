"""The building blocks of the tutorial notebooks' sources (cells, the parameters and
setup cells every notebook starts with)."""

from __future__ import annotations

import textwrap

Cell = tuple[str, str, tuple[str, ...]]


def md(text: str) -> Cell:
    return ("markdown", textwrap.dedent(text).strip(), ())


def code(text: str, *tags: str) -> Cell:
    return ("code", textwrap.dedent(text).strip(), tags)


PARAMETERS = code(
    """
    # Parameters (papermill and the tests set these; leave them as they are to use the
    # default database: $HARVEST_DATABASE_URL, else the embedded PostgreSQL)
    database_url = None
    timeout = 60  # seconds to wait for a run
    """,
    "parameters",
)

SETUP = code(
    """
    import harvest_studio as hs

    %load_ext harvest_studio
    if database_url:
        %config HarvestMagics.database_url = database_url
    """
)
