"""What the subcommand handlers and tab completion need from the ``%harvest`` magics:
:class:`MagicsContext`. ``core.HarvestMagics`` provides it; the handler modules and
``completion`` see only this protocol, so they never import ``core`` (which imports them)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from ...client import Client
from ...tools.code_versions import CodeVersions
from ..kernel_worker import KernelWorker


class MagicsContext(Protocol):
    """The settings, state and helpers of one ``HarvestMagics`` that the handlers
    (``runs``, ``talking``, ``resets``, ``notebook``) and ``completion`` use."""

    # -- settings (the configurable's traits) -----------------------------------------------
    @property
    def display_limit(self) -> int: ...
    @property
    def worker_options(self) -> Mapping[str, Any]: ...
    @property
    def completion_cache_seconds(self) -> float: ...

    # -- the notebook, its code and its worker ----------------------------------------------
    @property
    def user_ns(self) -> dict[str, Any]: ...
    @property
    def versions(self) -> CodeVersions: ...
    @property
    def kernel_worker(self) -> KernelWorker: ...

    history_db: Any
    """the histories ``%harvest load`` put in DuckDB (a ``HistoryDB``), or None"""

    # -- the database -----------------------------------------------------------------------
    @property
    def client(self) -> Client:
        """The sync client (opened on first use)."""
        ...
    @property
    def opened_client(self) -> Client | None:
        """The sync client if a command already opened it, else None (never opens one)."""
        ...

    def run(self, action: Callable[[Any], Any]) -> Any:
        """Run one command-layer coroutine on the client's loop: ``action(async_client)``."""
        ...

    def touched(self) -> None:
        """Note that a command made new runs (completion reads them next time)."""
        ...

    # -- cell bodies ------------------------------------------------------------------------
    def cell_value(self, body: str) -> Any:
        """Run a cell body like IPython runs a cell and return the value of its last line."""
        ...

    def cell_args(self, body: str | None, line_args: Sequence[str]) -> list[Any]:
        """The arguments: JSON words of the line, or the value of the cell body."""
        ...

    # -- what completion remembers (read and written by ``completion``) ---------------------
    recent_at: float  # monotonic time of the last read; 0.0: read again next time
    recent_runs: list[tuple[str, str, str]]  # run id, workflow id, workflow type
    recent_types: list[str]  # registered workflow types
    recent_schedules: list[str]  # names of the namespace's schedules
