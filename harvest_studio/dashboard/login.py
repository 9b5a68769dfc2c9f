"""The dashboard's login: a form that takes an API token and keeps it in an HttpOnly,
SameSite=Strict cookie. The form is protected against cross-site posts by a double-submit
token (a random value both in a cookie and in the form, which another site can neither
read nor set)."""

from __future__ import annotations

import hmac
import html
import secrets
import urllib.parse

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ..api.auth import COOKIE, services_of

CSRF_COOKIE = "harvest_csrf"
router = APIRouter(include_in_schema=False)
_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Harvest Studio</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30em;margin:4em auto;color:#1f2328}}
input{{width:100%;padding:.4em;margin:.3em 0;font-family:monospace}}
button{{padding:.4em 1.2em}} .err{{color:#cf222e}}</style></head><body>
<h1>Harvest Studio</h1><p>Log in with an API token
(<code>harvest token create --scope read --name you</code>).</p>
<form method="post" action="/ui/login">
<input type="hidden" name="csrf" value="{csrf}">
<label>Token <input type="password" name="token" autocomplete="off" autofocus></label>
<button type="submit">Log in</button></form><p class="err">{error}</p></body></html>"""


def _form(error: str = "", status: int = 200) -> Response:
    csrf = secrets.token_urlsafe(24)
    response = HTMLResponse(_PAGE.format(csrf=csrf, error=html.escape(error)),
                            status_code=status)
    response.set_cookie(CSRF_COOKIE, csrf, httponly=True, samesite="strict", path="/ui")
    return response


@router.get("/ui")
async def home() -> Response:
    return RedirectResponse("/ui/runs", status_code=303)


@router.get("/ui/login")
async def login_form() -> Response:
    return _form()


@router.post("/ui/login")
async def login(request: Request) -> Response:
    # a urlencoded form, read here (FastAPI's Form() would need python-multipart)
    fields = urllib.parse.parse_qs((await request.body()).decode("utf-8", "replace"))
    token = (fields.get("token") or [""])[0]
    csrf = (fields.get("csrf") or [""])[0]
    expected = request.cookies.get(CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf):
        return _form("The form expired or came from another site; try again.", 403)
    default = await services_of(request).client("default")
    found = await default.authenticate(token.strip()) if token.strip() else None
    if found is None:
        return _form("That is not a live token.", 401)
    where = "" if found.namespace is None else f"?namespace={found.namespace}"
    response = RedirectResponse(f"/ui/runs{where}", status_code=303)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/",
                        max_age=12 * 3600, secure=request.url.scheme == "https")
    response.delete_cookie(CSRF_COOKIE, path="/ui")
    return response


@router.get("/ui/logout")
async def logout(request: Request) -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
