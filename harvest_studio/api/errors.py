"""Errors as the HTTP API speaks them: ``{"code", "message"}`` with the command line's
codes, 4xx for anything the caller can change, 5xx only for faults of the server."""

from __future__ import annotations

from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..model.errors import HarvestError, UsageError

_BY_CODE = {
    "run_not_found": 404,
    "namespace_not_found": 404,
    "token_not_found": 404,
    "worker_not_found": 404,
    "dead_letter_not_found": 404,
    "dag_not_found": 404,
    "unknown_workflow": 404,
    "unknown_query": 404,
    "workflow_already_started": 409,
    "run_not_running": 409,
    "namespace_not_empty": 409,
    "token_name_taken": 409,
    "no_reset_point": 409,
    "invalid_reset_point": 409,
    "update_rejected": 409,
    "query_failed": 422,
    "update_failed": 422,
    "query_timeout": 408,
    "update_timeout": 408,
    "result_timeout": 408,
    "database_unavailable": 503,
    "database_error": 500,
}


class Problem(BaseModel):
    """Every error response: the command line's error code and a one-line message."""

    code: str
    message: str


def status_of(exc: HarvestError) -> int:
    if exc.code == "database_error" and isinstance(exc.__cause__, psycopg.DataError):
        return 400  # a value the database cannot hold (a NUL, a bad encoding): bad input
    status = _BY_CODE.get(exc.code)
    if status is not None:
        return status
    return 400 if isinstance(exc, UsageError) else 409


def problem(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": " ".join(message.split())[:2000]},
        status_code=status,
        headers=headers or None,
    )


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error.get("msg", ""))
    return "; ".join(parts) or "the request is not valid"


def install_error_handlers(app: FastAPI) -> None:
    async def harvest_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HarvestError)
        return problem(status_of(exc), exc.code, str(exc) or exc.code)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem(400, "usage_error", _validation_message(exc))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {401: "unauthenticated", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        return problem(exc.status_code, code, str(exc.detail), **headers)

    app.add_exception_handler(HarvestError, harvest_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(StarletteHTTPException, http_error)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": about}
    for status, about in (
        (400, "bad input (code: the command line's usage codes)"),
        (401, "no token, or not a live one"),
        (403, "the token's scope or namespace does not allow this"),
        (404, "no such run, namespace, token or type"),
        (408, "the run, query or update did not answer in time"),
        (409, "the run's state does not allow this"),
        (422, "the workflow's handler refused or failed"),
        (503, "the database cannot be reached"),
    )
}
