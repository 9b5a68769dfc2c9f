"""JSON conversion and the small formatters every rendering uses: cut text, compact JSON,
local times, durations, fixed-width tables and aligned ``label  value`` lines."""

from __future__ import annotations

import dataclasses
import enum
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import PurePath
from typing import Any

from ...client import RunPage

CELL_WIDTH = 60
ELLIPSIS = "..."


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------
def to_json(obj: Any) -> Any:
    """Turn a command result (dataclass, engine object, datetime, ...) into plain JSON data."""
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, RunPage):
        return {"runs": [to_json(r) for r in obj.runs], "next_page_token": obj.next_page_token}
    method = getattr(obj, "to_json", None)
    if callable(method) and not isinstance(obj, type):
        return to_json(method())
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_json(v) for v in obj]
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, BaseException):
        to_dict = getattr(obj, "to_dict", None)
        if callable(to_dict):
            return to_json(to_dict())
        return {"type": type(obj).__name__, "message": str(obj)}
    if isinstance(obj, enum.Enum):
        return to_json(obj.value)
    if isinstance(obj, uuid.UUID | PurePath):
        return str(obj)
    return repr(obj)


def dumps(obj: Any, *, indent: int | None = 2) -> str:
    """:func:`to_json` then ``json.dumps``."""
    return json.dumps(to_json(obj), indent=indent, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# small formatters
# ---------------------------------------------------------------------------------------
def shorten(text: str, width: int) -> str:
    """``text`` on one line, cut to ``width`` characters with a trailing ``...``."""
    flat = " ".join(text.split()) if ("\n" in text or "\r" in text or "\t" in text) else text
    if width <= 0 or len(flat) <= width:
        return flat
    if width <= len(ELLIPSIS):
        return flat[:width]
    return flat[: width - len(ELLIPSIS)] + ELLIPSIS


def compact(value: Any, width: int = CELL_WIDTH) -> str:
    """A value as short one-line JSON (falls back to ``repr``)."""
    try:
        text = json.dumps(to_json(value), separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return shorten(text, width)


def fmt_time(moment: datetime | None, *, ms: bool = False) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone() if moment.tzinfo is not None else moment
    text = local.strftime("%Y-%m-%d %H:%M:%S")
    return f"{text}.{local.microsecond // 1000:03d}" if ms else text


def fmt_clock(moment: datetime) -> str:
    """Local wall-clock time with milliseconds."""
    local = moment.astimezone() if moment.tzinfo is not None else moment
    return f"{local.strftime('%H:%M:%S')}.{local.microsecond // 1000:03d}"


def fmt_duration(seconds: float | None) -> str:
    """``0.25`` -> ``250ms``, ``75`` -> ``1m15s``, ``93784`` -> ``1d02h``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def _parse_iso(text: Any) -> datetime | None:
    if isinstance(text, datetime):
        return text
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters (terminal escapes, bidi overrides...) written as
    ``\\x1b``-style escapes: an id or a payload cannot drive the reader's terminal. New
    lines and tabs stay."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return fmt_time(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, int):
        return str(value)
    return printable(compact(value, 10_000))


def _error_line(error: Mapping[str, Any] | None) -> str:
    if not error:
        return "-"
    kind = error.get("type") or error.get("code") or "error"
    return f"{kind}: {error.get('message', '')}".rstrip(": ")


def _args(args: Any, width: int = 50) -> str:
    if isinstance(args, list):
        return shorten(", ".join(compact(a, width) for a in args), width)
    return compact(args, width)


def _attributes(attrs: Mapping[str, Any], width: int = 80) -> str:
    """``customer="acme", amount=150`` (``None``: ``stage removed``)."""
    parts = [
        f"{key} removed" if value is None else f"{key}={compact(value, width)}"
        for key, value in attrs.items()
    ]
    return shorten(", ".join(parts), width) if parts else "-"


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------
def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    max_width: int | Sequence[int | None] | None = CELL_WIDTH,
    indent: str = "",
    empty: str = "(none)",
) -> str:
    """A fixed-width text table: one header line, then one line per row.

    Cells are cut to ``max_width`` (one limit for all columns, or one per column; ``None``
    for no limit). Columns whose values are all numbers are right-aligned.
    """
    raw = [list(r) for r in rows]
    if not raw:
        return f"{indent}{empty}"
    ncols = len(headers)
    limits = (
        list(max_width)
        if isinstance(max_width, Sequence)
        else [max_width] * ncols
    )
    limits += [CELL_WIDTH] * (ncols - len(limits))
    text = [
        [shorten(_cell(r[i] if i < len(r) else None), limits[i] or 0) for i in range(ncols)]
        for r in raw
    ]
    numeric = [
        all(isinstance(r[i], int | float) and not isinstance(r[i], bool)
            for r in raw if i < len(r) and r[i] is not None)
        for i in range(ncols)
    ]
    widths = [max(len(headers[i]), *(len(t[i]) for t in text)) for i in range(ncols)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.rjust(widths[i]) if numeric[i] else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return (indent + "  ".join(parts)).rstrip()

    header = [h.rjust(widths[i]) if numeric[i] else h for i, h in enumerate(headers)]
    return "\n".join([line(header), *(line(t) for t in text)])


def key_values(pairs: Iterable[tuple[str, Any]], *, indent: str = "") -> str:
    """``label  value`` lines with aligned values (multi-line values are indented)."""
    items = [(k, _cell(v) if not isinstance(v, str) else printable(v)) for k, v in pairs]
    if not items:
        return ""
    width = max(len(k) for k, _ in items)
    out = []
    for key, value in items:
        first, *rest = value.split("\n") or [""]
        out.append(f"{indent}{key.ljust(width)}  {first}".rstrip())
        out.extend(f"{indent}{' ' * width}  {more}".rstrip() for more in rest)
    return "\n".join(out)
