"""What every dashboard page shares: the navigation bar, escaped HTML tables, status
badges, and the confirmation step every change goes through."""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import panel as pn

from ..model.errors import HarvestError
from .identity import Viewer

STATUS_COLOURS = {"RUNNING": "#0969da", "COMPLETED": "#1a7f37", "FAILED": "#cf222e",
                  "TIMED_OUT": "#cf222e", "CANCELLED": "#9a6700", "TERMINATED": "#9a6700",
                  "CONTINUED_AS_NEW": "#8250df"}
STYLE = """<style>
.hs-table{border-collapse:collapse;font:13px system-ui,sans-serif}
.hs-table th,.hs-table td{border-bottom:1px solid #d8dee4;padding:3px 8px;text-align:left}
.hs-table th{color:#57606a;font-weight:600}
.hs-badge{color:#fff;border-radius:8px;padding:0 7px;font-size:12px}
.hs-nav a{margin-right:14px}
</style>"""
NAV = (("Runs", "/ui/runs"), ("Workers & queues", "/ui/workers"), ("Dead letters", "/ui/dlq"),
       ("Schedules", "/ui/schedules"), ("DAGs", "/ui/dags"), ("Audit", "/ui/audit"))


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f"<span class='hs-badge' style='background:{colour}'>{esc(status)}</span>"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, empty: str = "(none)",
          css_class: str = "hs-table") -> str:
    """Rows of already-escaped HTML cells."""
    if not rows:
        return f"<div><em>{esc(empty)}</em></div>"
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"{STYLE}<table class='{css_class}'><thead><tr>{head}</tr></thead>" \
           f"<tbody>{body}</tbody></table>"


def page(viewer: Viewer, title: str, *body: Any) -> pn.Column:
    links = "".join(f"<a href='{href}?namespace={esc(viewer.namespace)}'>{esc(name)}</a>"
                    for name, href in NAV)
    who = (f"{esc(viewer.token.name)} ({esc(viewer.token.scope)}) in namespace "
           f"<b>{esc(viewer.namespace)}</b> · <a href='/ui/logout'>log out</a>")
    header = pn.pane.HTML(f"{STYLE}<div class='hs-nav'><b>Harvest Studio</b> · {links}"
                          f"<span style='float:right'>{who}</span></div>",
                          sizing_mode="stretch_width")
    return pn.Column(header, pn.pane.Markdown(f"## {title}"), *body,
                     sizing_mode="stretch_width")


def message_pane() -> pn.pane.HTML:
    """Where the outcome of a page's changes is said."""
    return pn.pane.HTML("", css_classes=["hs-message"], sizing_mode="stretch_width")


class Confirmed:
    """A change behind a confirmation: the button asks, a second step (with a reason)
    does it, and the outcome is said in ``message``. Disabled for a token that may not
    change."""

    def __init__(self, viewer: Viewer, label: str, act: Callable[[str], Awaitable[str]],
                 *, reason: bool = True, scope: str = "operate",
                 message: pn.pane.HTML | None = None) -> None:
        self.act = act
        allowed = viewer.token.allows(scope, viewer.namespace)
        self.button = pn.widgets.Button(name=label, button_type="warning",
                                        disabled=not allowed,
                                        css_classes=[f"hs-act-{label.lower()}"])
        self.reason = pn.widgets.TextInput(placeholder="reason", visible=False, width=260)
        self.confirm = pn.widgets.Button(name=f"Confirm {label.lower()}", button_type="danger",
                                         visible=False, css_classes=["hs-confirm"])
        self.back = pn.widgets.Button(name="Back", visible=False)
        self.message = message if message is not None else pn.pane.HTML(
            "", css_classes=["hs-message"])
        self.needs_reason = reason
        self.button.on_click(lambda _: self._ask(True))
        self.back.on_click(lambda _: self._ask(False))
        self.confirm.on_click(self._do)
        self.view = pn.Row(self.button, self.reason, self.confirm, self.back)

    def _ask(self, asking: bool) -> None:
        self.button.visible = not asking
        self.reason.visible = asking and self.needs_reason
        self.confirm.visible = self.back.visible = asking

    async def _do(self, _: Any) -> None:
        self.confirm.disabled = True
        try:
            said = await self.act(self.reason.value or "")
            self.message.object = f"<span style='color:#1a7f37'>{esc(said)}</span>"
        except HarvestError as exc:
            self.message.object = f"<span style='color:#cf222e'>{esc(exc.code)}: " \
                                  f"{esc(exc)}</span>"
        finally:
            self.confirm.disabled = False
            self._ask(False)
