"""The HTTP front end (``harvest serve``): the command layer over HTTP with bearer tokens,
the audit trail, server-sent events and health checks. Needs the ``serve`` extra
(FastAPI and uvicorn)."""

from __future__ import annotations

from .app import create_app

__all__ = ["create_app"]
