"""Client."""

from __future__ import annotations

from ._all import (
    ID_CONFLICT_POLICIES,
    ID_REUSE_POLICIES,
    MAX_ID_LENGTH,
    TERMINAL_STATUSES,
    AsyncClient,
    AsyncRunHandle,
    Client,
    ResetResult,
    RunHandle,
    RunInfo,
    RunPage,
    connect,
)

__all__ = [
    "ID_CONFLICT_POLICIES",
    "ID_REUSE_POLICIES",
    "MAX_ID_LENGTH",
    "TERMINAL_STATUSES",
    "AsyncClient",
    "AsyncRunHandle",
    "Client",
    "ResetResult",
    "RunHandle",
    "RunInfo",
    "RunPage",
    "connect",
]
