"""A Jupyter authorizer that lets everyone read Harvest but change nothing (the test of
the server extension asking Jupyter's authorizer)."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.authorizer import Authorizer


class ReadOnlyHarvest(Authorizer):  # type: ignore[misc]
    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return not (resource == "harvest" and action == "write")
