"""What ``%harvest`` commands return: a command result shown as text or as HTML.

:class:`HarvestOutput` carries the command layer's result in ``.data`` and displays itself
through IPython's ``_repr_mimebundle_``: ``text/plain`` is always the CLI's rendering (so
logs, terminals and papermill read the same text), ``text/html`` is for JupyterLab.
No IPython import here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ..commands.render import to_json
from ..commands.render.html import esc, html_table, pre_block
from ..tools.replay import ReplayReport, describe_command

RUN_HANDLE_NAMES = frozenset({
    "id", "ref", "workflow_id", "run_id", "result", "describe", "history", "attempt_logs",
    "signal", "tree",
    "chain", "explore", "card", "graph", "query", "update", "cancel", "terminate", "pause",
    "resume",
})
"""what a result about one run answers as that run's handle (before its own fields)"""


class HarvestOutput:
    """The result of a ``%harvest`` command.

    ``data`` is the command layer's result (a :class:`~harvest_studio.RunInfo`,
    ``StartedRun``, ``RunHistory``...); its public attributes can be read on this object
    too: ``run = %harvest start greet '"ada"'`` then ``run.run_id``. A result about one run
    is also that run's handle (``handle``): ``run.result()``, ``run.signal(...)``,
    ``run.card()``, ``run.explore()``, ``run.id``... — a field of the result with the name
    of a handle method (``signal``, of a signal-with-start) is read from ``run.data``.
    """

    def __init__(self, data: Any, text: str, html_text: str | None = None,
                 title: str | None = None, widget: Callable[[], Any] | None = None) -> None:
        self.data = data
        self.text = text
        self.title = title
        self._html = html_text
        self.handle: Any = None
        self._make_widget = widget
        self.widget: Any = None  # the interactive view, once shown in a kernel

    @property
    def html(self) -> str:
        if self._html is not None:
            return self._html
        return pre_block(self.text, self.title)

    def to_json(self) -> Any:
        """The result as plain JSON data (what ``harvest ... --json`` prints)."""
        return to_json(self.data)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        if self._make_widget is not None and _in_kernel():
            if self.widget is None:
                try:
                    self.widget = self._make_widget()
                except ImportError:  # no `notebook` extra: the static table does
                    self._make_widget = None
            if self.widget is not None:
                return self.widget._repr_mimebundle_()
        return {"text/plain": self.text, "text/html": self.html}

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or "data" not in self.__dict__:
            raise AttributeError(name)
        handle = self.__dict__.get("handle")
        if handle is not None and name in RUN_HANDLE_NAMES:
            return getattr(handle, name)
        return getattr(self.__dict__["data"], name)

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        names.update(n for n in dir(self.__dict__.get("data")) if not n.startswith("_"))
        if self.__dict__.get("handle") is not None:
            names.update(RUN_HANDLE_NAMES)
        return sorted(names)


def _in_kernel() -> bool:
    """Whether a Jupyter kernel (which can show widgets) runs this code."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


def run_identity(data: Any) -> tuple[str, str] | None:
    """The (workflow id, run id) of a command result about one run, else None."""
    workflow_id = getattr(data, "workflow_id", None)
    run_id = getattr(data, "run_id", None)
    if isinstance(workflow_id, str) and isinstance(run_id, str) and workflow_id and run_id:
        return workflow_id, run_id
    return None


def replay_html(report: ReplayReport) -> str:
    """HTML for ``%harvest replay``: the headline in colour, then the divergence and code."""
    colour = "#1a7f37" if report.ok else "#cf222e"
    head = (
        f"<div><strong>{esc(report.workflow_type)}</strong> <code>{esc(report.workflow_id)}"
        f"</code> (run <code>{esc(report.run_id)}</code>, {esc(report.status)}) on local "
        f'code: <span style="color:{colour};font-weight:600">{esc(report.headline())}</span>'
        "</div>"
    )
    rows: list[list[str]] = []
    if not report.ok:
        if report.seq is not None:
            rows += [
                ["Event", esc(report.seq)],
                ["Expected (history)", f"<code>{esc(describe_command(report.expected))}</code>"],
                ["Actual (local code)", f"<code>{esc(describe_command(report.actual))}</code>"],
            ]
        rows.append(["Message", esc(report.message or "")])
    rows += [[esc(k or ""), esc(v)] for k, v in report.code_lines()]
    if report.blocked:
        rows.append(["Blocked", esc(report.blocked_note())])
    table = html_table(["", ""], rows)
    return f'<div class="harvest-output">{head}{table}</div>'
