"""Where run handles find their notebook views (the explorer and the run card): the studio
layer is above this one, so the top-level package registers an adapter here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..model.errors import UsageError

if TYPE_CHECKING:
    from .sync_client import Client


class RunViews(Protocol):
    """The notebook views of a run, as :meth:`RunHandle.explore` and ``card`` show them."""

    def explore(self, client: Client, ref: str, **options: Any) -> Any:
        """The history explorer widget for run ``ref``."""
        ...

    def card(self, client: Client, ref: str, **options: Any) -> Any:
        """A compact live card for run ``ref``."""
        ...


_views: RunViews | None = None


def set_run_views(views: RunViews | None) -> None:
    """Register the views run handles use (``None`` withdraws them)."""
    global _views
    _views = views


def run_views() -> RunViews:
    """The registered views; :class:`UsageError` if there are none."""
    if _views is None:
        raise UsageError(
            "the notebook views are not available: they need `pip install harvest-studio[notebook]`"
        )
    return _views
