"""Harvest Studio inside Jupyter: the server extension that JupyterLab's Harvest extension
talks to. Jupyter Server finds it through :func:`_jupyter_server_extension_points`."""

from __future__ import annotations

from typing import Any

from .._version import __version__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import HarvestExtension

    return [{"module": "harvest_studio.jupyter", "app": HarvestExtension}]


__all__ = ["__version__"]
