"""Magics."""
from __future__ import annotations

from ._all import HarvestMagics, load_ipython_extension, unload_ipython_extension

__all__ = ["HarvestMagics", "load_ipython_extension", "unload_ipython_extension"]
