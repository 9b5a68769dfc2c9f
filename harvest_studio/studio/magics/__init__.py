"""The ``%harvest`` IPython magics: the ``harvest`` commands in a notebook, plus an in-kernel
worker. Loaded by ``%load_ext harvest_studio`` (:func:`load_ipython_extension`).

One configurable :class:`HarvestMagics` with one ``%harvest`` line/cell magic whose
subcommands mirror the ``harvest`` command line and call the same command layer
(:mod:`harvest_studio.commands`). Each returns a :class:`~..display.HarvestOutput`
(``text/plain`` as the CLI prints it, ``text/html`` for JupyterLab; a trailing ``;``
silences it). Errors are one-line IPython ``UsageError``\\ s: ``code: message``.

Settings (``%config HarvestMagics.<name> = ...``, ``c.HarvestMagics.<name>`` in
``ipython_config.py``, or ``[tool.harvest_studio]`` in the nearest ``pyproject.toml``):
``database_url``, ``namespace``, ``display_limit``, ``worker_options``.
"""

from __future__ import annotations

from .core import HarvestMagics
from .extension import load_ipython_extension, unload_ipython_extension
from .parser import HELP, build_parser

__all__ = ["HELP", "HarvestMagics", "build_parser", "load_ipython_extension",
           "unload_ipython_extension"]
