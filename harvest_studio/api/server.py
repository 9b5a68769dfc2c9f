"""Running the API: ``harvest serve`` hands the application to uvicorn."""

from __future__ import annotations

import uvicorn

from .app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8233


def serve(
    database_url: str | None = None,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    log_level: str = "info",
) -> None:
    """Serve the API (and the dashboard) until interrupted. Binds to 127.0.0.1 unless
    ``host`` says otherwise."""
    uvicorn.run(
        create_app(database_url), host=host, port=port, log_level=log_level,
        proxy_headers=False, server_header=False,
    )
