"""Settings from ``pyproject.toml``: the ``[tool.harvest_studio]`` table of the nearest
one, for the ``HarvestMagics`` settings IPython's configuration leaves unset."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError as IPythonUsageError

from .parser import one_line

CONFIG_KEYS = ("database_url", "namespace", "display_limit", "worker_options")


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` at or above ``start`` (default: the working dir)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def pyproject_settings(path: Path | None) -> dict[str, Any]:
    """The ``[tool.harvest_studio]`` keys this extension reads (others are ignored)."""
    if path is None:
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise IPythonUsageError(one_line(f"bad_config: cannot read {path}: {exc}")) from None
    section = data.get("tool", {}).get("harvest_studio", {})
    if not isinstance(section, dict):
        return {}
    return {k: v for k, v in section.items() if k in CONFIG_KEYS}

