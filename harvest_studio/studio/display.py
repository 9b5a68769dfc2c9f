"""What ``%harvest`` commands return: a command result shown as text or as HTML.

:class:`HarvestOutput` carries the command layer's result in ``.data`` and displays itself
through IPython's ``_repr_mimebundle_``: ``text/plain`` is always the CLI's rendering (so
logs, terminals and papermill read the same text), ``text/html`` is for JupyterLab.
No IPython import here.
"""

from __future__ import annotations

from typing import Any

from ..commands.render import to_json
from ..commands.render.html import esc, html_table, pre_block
from ..tools.replay import ReplayReport, describe_command


class HarvestOutput:
    """The result of a ``%harvest`` command.

    ``data`` is the command layer's result (a :class:`~harvest_studio.RunInfo`,
    ``StartedRun``, ``RunHistory``...); its public attributes can be read on this object
    too: ``run = %harvest start greet '"ada"'`` then ``run.run_id``.
    """

    def __init__(self, data: Any, text: str, html_text: str | None = None,
                 title: str | None = None) -> None:
        self.data = data
        self.text = text
        self.title = title
        self._html = html_text

    @property
    def html(self) -> str:
        if self._html is not None:
            return self._html
        return pre_block(self.text, self.title)

    def to_json(self) -> Any:
        """The result as plain JSON data (what ``harvest ... --json`` prints)."""
        return to_json(self.data)

    def _repr_mimebundle_(
        self, include: Any = None, exclude: Any = None
    ) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}

    def __repr__(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or "data" not in self.__dict__:
            raise AttributeError(name)
        return getattr(self.__dict__["data"], name)


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
