"""Error fingerprints: failures that are "the same problem" share one, so a thousand dead
letters fold into the three bugs behind them. A fingerprint is the exception type, the
message with its varying parts (ids, numbers, quoted values) masked, and the innermost frame
of the traceback by file and function (line numbers move with every edit; they are left
out)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

_MASKS = (
    (re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
     "<uuid>"),
    (re.compile(r"0x[0-9a-fA-F]+"), "<hex>"),
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
)
_FRAME = re.compile(r'File "([^"]+)", line \d+, in (\S+)')
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class Fingerprint:
    """What groups failures: ``key`` (12 hex digits) over the error ``type``, the masked
    ``message`` and the innermost ``frame`` (``file.py:function``, or None)."""

    key: str
    type: str
    message: str
    frame: str | None


def normalise_message(message: str) -> str:
    """``order 1234 failed at 0xdead`` -> ``order <n> failed at <hex>``."""
    text = " ".join(message.split())
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    return text[:_MESSAGE_LIMIT]


def top_frame(traceback: str | None) -> str | None:
    """The innermost frame of a Python traceback as ``file.py:function``."""
    if not traceback:
        return None
    frames = _FRAME.findall(traceback)
    if not frames:
        return None
    path, function = frames[-1]
    return f"{path.replace(chr(92), '/').rsplit('/', 1)[-1]}:{function}"


def fingerprint(error: dict[str, Any] | None) -> Fingerprint:
    """The fingerprint of an error as the engine records it (``type``, ``message``,
    ``traceback``)."""
    error = error or {}
    kind = str(error.get("type") or "Error")
    message = normalise_message(str(error.get("message") or ""))
    frame = top_frame(error.get("traceback"))
    key = hashlib.sha256(f"{kind}\n{message}\n{frame}".encode()).hexdigest()[:12]
    return Fingerprint(key, kind, message, frame)
