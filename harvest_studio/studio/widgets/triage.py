"""``%harvest dlq`` as a widget: dead letters clustered by fingerprint; selecting a cluster
previews the letters an action would take, then replays or discards exactly those. The
static table stays in the bundle's ``text/html`` for saved notebooks."""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from ... import commands
from ...client import Client
from ...commands.render import fmt_time, render_dlq_action
from ...model.errors import HarvestError
from .live import STATIC, bundle_parts, front_end

TRACEBACK_LINES = 12


def group_row(group: commands.DlqGroup) -> dict[str, Any]:
    sample = group.sample
    traceback = str(sample.error.get("traceback") or "").rstrip().splitlines()
    return {
        "key": group.key, "count": group.count, "type": group.type, "message": group.message,
        "frame": group.frame, "workflow_types": group.workflow_types, "kinds": group.kinds,
        "last": fmt_time(group.last),
        "sample": {
            "id": sample.id, "run_id": sample.run_id, "type_name": sample.type_name,
            "error": f"{sample.error.get('type', 'Error')}: {sample.error.get('message', '')}",
            "traceback": "\n".join(traceback[-TRACEBACK_LINES:]),
        },
    }


class DeadLetterTriage(anywidget.AnyWidget):  # type: ignore[misc]
    """Clusters of dead letters; select one, preview it, replay or discard it."""

    _esm = front_end()
    _css = (STATIC / "explorer.css").read_text()  # a path would be watched, pinning widgets

    view = traitlets.Unicode("triage").tag(sync=True)
    groups: traitlets.List[Any] = traitlets.List().tag(sync=True)
    selected = traitlets.Unicode("").tag(sync=True)
    preview: traitlets.List[Any] = traitlets.List().tag(sync=True)

    def __init__(self, client: Client, groups: commands.DlqGroups, *, html: str = "",
                 text: str = "", **kwargs: Any) -> None:
        super().__init__(groups=[group_row(g) for g in groups.groups], **kwargs)
        self.client = client
        self._html, self._text = html, text
        self.on_msg(self._on_message)

    def refresh(self) -> None:
        groups = self.client._run(commands.dlq_group(self.client.aio))
        self.groups = [group_row(g) for g in groups.groups]
        if self.selected and not any(g["key"] == self.selected for g in self.groups):
            self.selected, self.preview = "", []

    def select(self, key: str) -> list[str]:
        """Select the cluster ``key``: the ids an action would take now."""
        where = commands.DlqFilter(fingerprint=key)
        listing = self.client._run(commands.dlq_list(self.client.aio, where, limit=10_000))
        self.preview = [d.id for d in listing.letters]
        self.selected = key
        return list(self.preview)

    def act(self, action: str, ids: list[str], text: str) -> commands.DlqAction:
        """Replay or discard exactly the previewed letters (``ids``)."""
        aio = self.client.aio
        done: commands.DlqAction
        if action == "replay":
            done = self.client._run(commands.dlq_replay(aio, ids, note=text or None))
        else:
            done = self.client._run(commands.dlq_discard(aio, ids, reason=text))
        self.refresh()
        return done

    def _on_message(self, widget: Any, content: Any, buffers: Any) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "select":
                self.select(str(content.get("key") or ""))
            elif kind in ("replay", "discard"):
                ids = [str(i) for i in content.get("ids") or []]
                done = self.act(kind, ids, str(content.get("text") or ""))
                self.send({"type": "done", "ok": True, "message": render_dlq_action(done)})
        except HarvestError as exc:
            self.send({"type": "done", "ok": False, "message": f"{exc.code}: {exc}"})

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        data, metadata = bundle_parts(super()._repr_mimebundle_(**kwargs))
        if isinstance(data, dict):
            data = {**data, "text/plain": self._text, "text/html": self._html}
        return data, metadata


def triage(client: Client, groups: commands.DlqGroups, **options: Any) -> DeadLetterTriage:
    """The dead-letter triage widget (needs the ``notebook`` extra)."""
    return DeadLetterTriage(client, groups, **options)
