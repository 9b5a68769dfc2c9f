"""JSON payloads: arguments, results, signal bodies. Strict: what neither JSON nor the
payload converter (:mod:`.payloads`) can hold is an error."""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import PayloadError, PayloadTooLargeError
from .payloads import encode_default

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024


_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # an escaped NUL, not an escaped backslash


def dumps(value: Any, *, what: str = "payload") -> str:
    """Serialise ``value`` to compact JSON, raising :class:`PayloadError` if it cannot be
    (or if PostgreSQL's ``jsonb`` could not hold it: NUL characters, unpaired surrogates)."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=encode_default,
                          ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{what} is not JSON-serialisable: {exc}") from None
    size = len(text)
    if not text.isascii():
        try:
            size = len(text.encode("utf-8"))
        except UnicodeEncodeError:
            raise PayloadError(f"{what} holds text that is not valid Unicode (an unpaired "
                               "surrogate, as undecodable bytes give)") from None
    if "\\u0000" in text and _NUL.search(text):
        raise PayloadError(f"{what} holds a NUL character, which PostgreSQL cannot store")
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"{what} is {size} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes"
        )
    return text


def check(value: Any, *, what: str = "payload") -> Any:
    """Return ``value`` unchanged after checking it round-trips through JSON."""
    return json.loads(dumps(value, what=what))


def loads_arg(text: str, *, what: str = "argument") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"{what} is not valid JSON: {exc.msg} at position {exc.pos}") from None
