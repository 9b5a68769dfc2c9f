"""Harvest Studio inside Jupyter: the server extension that JupyterLab's Harvest extension
talks to. Jupyter Server finds it through :func:`_jupyter_server_extension_points`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import HarvestExtension

    return [{"module": "harvest_studio.jupyter", "app": HarvestExtension}]


def extension_installed() -> bool:
    """True when JupyterLab will find the Harvest extension's bundle."""
    from jupyter_core.paths import jupyter_path

    return any((Path(p) / "harvest-studio" / "package.json").is_file()
               for p in jupyter_path("labextensions"))


__all__ = ["__version__", "extension_installed"]
