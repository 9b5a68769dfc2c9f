"""The run card: a compact live anywidget over one run (status, pending activities and
timers, the last error)."""

from __future__ import annotations

import threading
from typing import Any

import traitlets

from ...client import Client
from ...model.events import HistoryEvent
from .lanes import _jsonable, run_summary
from .live import STATIC, _Live, front_end
from .snapshot import card_html

ATTEMPT_ENDS = ("ActivityCompleted", "ActivityFailed")
OUTPUT_LINES = 5


class RunCard(_Live):
    """A compact live card: status, pending activities and timers, the last error."""

    _esm = front_end()
    _css = (STATIC / "explorer.css").read_text()  # a path would be watched, pinning widgets

    view = traitlets.Unicode("card").tag(sync=True)

    def __init__(self, client: Client, ref: str, *, live: bool = True, interval: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(interval=interval, **kwargs)
        self.client = client
        self.ref = ref
        self.run_id = client.describe(ref).run_id
        self._history: list[HistoryEvent] = []
        self._output: dict[str, Any] | None = None
        self._refreshing = threading.RLock()
        self.refresh()
        if live:
            self.start_live()

    def refresh(self) -> None:
        with self._refreshing:  # the poller and a settling cell may both refresh
            info = self.client.describe(self.run_id)
            after = self._history[-1].seq if self._history else 0
            new = self.client.history(self.run_id, after_seq=after)
            self._history.extend(new)
            if any(e.event_type in ATTEMPT_ENDS for e in new):
                self._output = self._last_output()
            self.summary = _jsonable({**run_summary(info, self._history),
                                      "output": self._output})

    def _last_output(self) -> dict[str, Any] | None:
        """The last lines the most recent attempt that printed anything printed."""
        logs = self.client.attempt_logs(self.run_id, latest=True)
        if not logs:
            return None
        last = logs[0]
        names = {e.seq: e.event.fields().get("activity_type") for e in self._history
                 if e.event_type == "ActivityScheduled"}
        lines = last.output.rstrip("\n").splitlines()
        return {"activity": names.get(last.activity_seq), "activity_seq": last.activity_seq,
                "attempt": last.attempt, "lines": lines[-OUTPUT_LINES:],
                "more": max(len(lines) - OUTPUT_LINES, 0) + (1 if last.dropped else 0)}

    def _snapshot_html(self) -> str:
        return card_html(self.summary)

    def __repr__(self) -> str:
        return f"<RunCard {self.summary.get('workflow_id')} {self.summary.get('status')}>"


def run_card(client: Client, ref: str, **options: Any) -> RunCard:
    """A compact live card for run ``ref``."""
    return RunCard(client, ref, **options)
