"""Running the API: ``harvest serve`` hands the application to uvicorn."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from .app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8233


def serve(
    database_url: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "info",
    extend: Callable[[FastAPI], None] | None = None,
) -> None:
    """Serve the API until interrupted (``extend`` adds to the application first: the
    dashboard). Binds to 127.0.0.1 unless ``host`` says otherwise."""
    app = create_app(database_url)
    if extend is not None:
        extend(app)
    fast = _installed("uvloop") and _installed("httptools")  # uvicorn[standard]
    uvicorn.run(
        app, host=host, port=port, log_level=log_level,
        loop="uvloop" if fast else "auto", http="httptools" if fast else "auto",
        proxy_headers=False, server_header=False,
    )


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
