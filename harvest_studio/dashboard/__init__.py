"""The dashboard of ``harvest serve`` under ``/ui``: Panel pages (runs, a run with its
timeline and actions, workers and queues, dead letters, schedules, DAGs, the audit trail)
over the same command layer as the API, behind a login that keeps the API token in an
HttpOnly cookie. Needs the ``dashboard`` extra (Panel); every script and stylesheet comes
from the installed packages, none from a CDN."""

from __future__ import annotations

from .mount import mount_dashboard

__all__ = ["mount_dashboard"]
