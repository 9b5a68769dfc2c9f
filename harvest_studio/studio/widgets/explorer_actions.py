"""The operator actions the explorer's buttons call on its run (signal, query, update,
cancel, terminate, reset after a valid preview of the same event), with the checks a
form needs: names present, arguments a list, a reason for a reset, a known signal
re-application mode. Each returns what the front end shows."""

from __future__ import annotations

from typing import Any

from ...client import Client
from ...model.reset_points import REAPPLY_MODES


class RunActions:
    """Actions on the run the explorer shows; ``previewed`` remembers the (run, event) of
    the last valid reset preview, which a reset must match."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.previewed: tuple[str, int] | None = None

    def signal(self, run_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"queued": self.client.signal(run_id, _name(content, "signal"),
                                             content.get("payload"))}

    def query(self, run_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"result": self.client.query(run_id, _name(content, "query"), *_args(content))}

    def update(self, run_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"result": self.client.update(run_id, _name(content, "update"),
                                             *_args(content))}

    def cancel(self, run_id: str, content: dict[str, Any]) -> dict[str, Any]:
        return {"requested": self.client.cancel(run_id, content.get("reason"))}

    def terminate(self, run_id: str, content: dict[str, Any]) -> dict[str, Any]:
        self.client.terminate(run_id, content.get("reason"))
        return {"terminated": True}

    def reset_preview(self, run_id: str, seq: int) -> dict[str, Any]:
        preview = self.client.reset(run_id, to_event=seq, dry_run=True).to_json()
        self.previewed = (run_id, seq) if preview.get("valid") else None
        return preview

    def reset(self, run_id: str, seq: int, content: dict[str, Any]) -> dict[str, Any]:
        if self.previewed != (run_id, seq):
            raise ValueError(f"preview the reset to event {seq} first (and it must be valid)")
        reason = str(content.get("reason") or "").strip()
        if not reason:
            raise ValueError("a reset needs a reason (it is recorded in both runs)")
        mode = content.get("reapply_signals") or "buffer"
        if mode not in REAPPLY_MODES:
            raise ValueError(f"reapply_signals must be one of {', '.join(REAPPLY_MODES)}")
        result = self.client.reset(run_id, to_event=seq, reason=reason, reapply_signals=mode)
        self.previewed = None
        return result.to_json()


def _name(content: dict[str, Any], what: str) -> str:
    name = content.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a {what} needs a name")
    return name.strip()


def _args(content: dict[str, Any]) -> list[Any]:
    args = content.get("args", [])
    if args is None:
        return []
    return list(args) if isinstance(args, list) else [args]
