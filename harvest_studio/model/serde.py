"""JSON payloads: arguments, results, signal bodies. Strict: what neither JSON nor the
payload converter (:mod:`.payloads`) can hold is an error."""

from __future__ import annotations

import json
from typing import Any

from .errors import PayloadError, PayloadTooLargeError
from .payloads import encode_default

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024


def dumps(value: Any, *, what: str = "payload") -> str:
    """Serialise ``value`` to compact JSON, raising :class:`PayloadError` if it cannot be."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, default=encode_default)
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"{what} is not JSON-serialisable: {exc}") from None
    if len(text) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLargeError(
            f"{what} is {len(text)} bytes; the limit is {MAX_PAYLOAD_BYTES} bytes"
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
