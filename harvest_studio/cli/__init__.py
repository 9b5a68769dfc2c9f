"""CLI."""
from __future__ import annotations

from ._all import main

__all__ = ["main"]
