"""Limits on the names and strings people pass in, checked before anything is written: a
one-line :class:`UsageError` instead of a database error, a truncated notification or an
encoding traceback."""

from __future__ import annotations

from typing import Any

from .errors import UsageError

MAX_NAME_LENGTH = 200
"""signal, update, query, queue, schedule and search attribute names"""
MAX_ID_LENGTH = 400
"""workflow ids, idempotency keys, update ids, fairness keys"""
MAX_REASON_LENGTH = 2000
"""the reason given to cancel, terminate, pause, resume or reset a run"""


def check_text(what: str, value: Any, limit: int, *, optional: bool = False) -> str | None:
    """``value`` if it is a usable string of 1..``limit`` characters (or None when
    ``optional``); otherwise :class:`UsageError` naming ``what``."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise UsageError(f"{what} must be a non-empty string, got {_short(value)}")
    if len(value) > limit:
        raise UsageError(f"{what} is {len(value):,} characters long; the limit is {limit:,}")
    if "\x00" in value:
        raise UsageError(f"{what} must not contain NUL characters")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{what} is not valid text (it holds an unpaired surrogate, "
                             "as undecodable bytes do)") from None
    return value


def check_name(what: str, value: Any, *, optional: bool = False) -> str | None:
    """:func:`check_text` with :data:`MAX_NAME_LENGTH`."""
    return check_text(what, value, MAX_NAME_LENGTH, optional=optional)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
