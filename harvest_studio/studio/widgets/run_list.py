"""``%harvest list`` as a widget: the runs table, where clicking a row opens that run's
history explorer right under the table (the explorer is a widget of its own, rendered
inside this one through anywidget's ``host``). The static table stays in the bundle's
``text/html`` for saved notebooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import anywidget
import traitlets

from ...client import Client, RunInfo
from ...commands.render import fmt_duration, fmt_time, run_status
from .explorer import HistoryExplorer
from .live import STATIC, bundle_parts, front_end


def list_row(info: RunInfo) -> dict[str, Any]:
    """One row of the runs table."""
    took = ("running" if info.closed_at is None
            else fmt_duration((info.closed_at - info.created_at).total_seconds()))
    return {"run_id": info.run_id, "workflow_id": info.workflow_id,
            "workflow_type": info.workflow_type, "status": run_status(info),
            "started": fmt_time(info.created_at), "took": took, "events": info.events}


class RunList(anywidget.AnyWidget):  # type: ignore[misc]
    """A runs table whose rows open the run's explorer below it."""

    _esm = front_end()
    _css = (STATIC / "explorer.css").read_text()  # a path would be watched, pinning widgets

    view = traitlets.Unicode("list").tag(sync=True)
    rows: traitlets.List[Any] = traitlets.List().tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    def __init__(self, client: Client, runs: Sequence[RunInfo], *, note: str = "",
                 html: str = "", text: str = "", **kwargs: Any) -> None:
        super().__init__(rows=[list_row(r) for r in runs], note=note, **kwargs)
        self.client = client
        self.opened: dict[str, HistoryExplorer] = {}
        self._html, self._text = html, text
        self.on_msg(self._on_message)

    def explorer(self, run_id: str) -> HistoryExplorer:
        """The explorer of run ``run_id`` (made once per run)."""
        if run_id not in self.opened:
            self.opened[run_id] = HistoryExplorer(self.client, run_id)
        return self.opened[run_id]

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict) or content.get("type") != "open":
            return
        run_id = str(content.get("run_id") or "")
        try:
            explorer = self.explorer(run_id)
        except Exception as exc:
            self.send({"type": "error", "run_id": run_id,
                       "message": f"{type(exc).__name__}: {exc}"})
            return
        self.send({"type": "opened", "run_id": run_id,
                   "ref": f"anywidget:{explorer.model_id}"})

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data, metadata = bundle_parts(super()._repr_mimebundle_(**kwargs))
        if isinstance(data, dict):
            data = {**data, "text/plain": self._text, "text/html": self._html}
        return data, metadata

    def close(self) -> None:
        for explorer in self.opened.values():
            explorer.close()
        super().close()



def run_list(client: Client, runs: Sequence[RunInfo], **options: Any) -> RunList:
    """The runs table widget (needs the ``notebook`` extra)."""
    return RunList(client, runs, **options)
