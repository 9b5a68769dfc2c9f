"""Parsing and checking of user input (JSON arguments, times, search attributes, filters,
statuses, signal/query/update/reset/start options), done before the database is touched."""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..client import MAX_ID_LENGTH, TERMINAL_STATUSES
from ..model import reset_points, serde
from ..model.definitions import check_priority
from ..model.durations import Duration, to_seconds
from ..model.errors import DurationError, UsageError
from ..model.filters import BUILTIN_FIELDS, Node, parse_filter
from ..model.limits import check_name, check_text
from .errors import BadTimeError

RUN_STATUSES = ("RUNNING", *TERMINAL_STATUSES)
RESET_TARGETS = reset_points.RESET_TARGETS
REAPPLY_MODES = reset_points.REAPPLY_MODES

# The client's signal_with_start, given a start idempotency key that already started a run
# which has since ended, returns that run and drops the signal without an error.
SIGNAL_WITH_KEY = (
    "an idempotency key cannot be combined with signal-with-start: once the first run has "
    "ended, a repeat would return it without delivering the signal"
)

# Signal-with-start signals the open run of the id; it never replaces it.
SIGNAL_WITH_TERMINATE = (
    "id reuse policy terminate_if_running cannot be combined with signal-with-start: the "
    "open run of the id is signalled, not replaced"
)


def parse_json_args(texts: Sequence[str]) -> list[Any]:
    """Parse each text as one JSON value (``'42'``, ``'"ada"'``, ``'{"a": 1}'``); ``@PATH``
    reads the value from a file and ``-`` from standard input (see :func:`json_text`)."""
    stdin = _StdinOnce()
    return [serde.loads_arg(json_text(t, stdin), what=f"argument {i} ({_shown(t)})")
            for i, t in enumerate(texts, 1)]


def parse_payload(text: str | None, *, what: str = "signal payload") -> Any:
    """One JSON value from the command line (``@PATH``: from a file, ``-``: from standard
    input); ``None`` (no text given) stays ``None``."""
    if text is None:
        return None
    return serde.loads_arg(json_text(text, _StdinOnce()), what=f"{what} ({_shown(text)})")


MAX_FILE_BYTES = 64 * 1024 * 1024


class _StdinOnce:
    """Standard input, readable by one ``-`` per command."""

    def __init__(self) -> None:
        self.used = False

    def read(self) -> str:
        if self.used:
            raise UsageError("`-` (standard input) can be given once per command")
        self.used = True
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("`-` reads a JSON value from standard input, but nothing is piped in")
        return sys.stdin.read()


def json_text(text: str, stdin: _StdinOnce) -> str:
    """The JSON text a command-line value stands for: ``@PATH`` is the file's content,
    ``-`` standard input's, anything else itself (no JSON value starts with ``@`` or is
    ``-``, so neither can be meant literally)."""
    if text == "-":
        return stdin.read()
    if not text.startswith("@"):
        return text
    path = Path(text[1:]).expanduser()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise UsageError(f"{text}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"{text}: no such file") from None
    except UnicodeDecodeError:
        raise UsageError(f"{text}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{text}: cannot read it ({exc.strerror})") from None


def _shown(text: str) -> str:
    return text if text == "-" or text.startswith("@") else repr(text)


def parse_time(value: datetime | str, *, now: datetime | None = None) -> datetime:
    """An aware datetime from a datetime, an ISO-8601 text, or a duration meaning "ago".

    Naive values are taken as local time. ``parse_time("90m")`` is 90 minutes ago.
    """
    out_of_range = BadTimeError(f"not a time: {value!r} (out of range)")
    if isinstance(value, datetime):
        try:
            return value if value.tzinfo is not None else value.astimezone()
        except (ValueError, OverflowError):
            raise out_of_range from None
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        pass
    else:
        try:
            return moment if moment.tzinfo is not None else moment.astimezone()
        except (ValueError, OverflowError):
            raise out_of_range from None
    try:
        ago = to_seconds(text)
    except DurationError:
        raise BadTimeError(
            f"not a time: {value!r} (use ISO-8601 like 2026-01-31T12:00 or an age like 2h)"
        ) from None
    try:
        return (now or datetime.now(UTC)) - timedelta(seconds=ago)
    except OverflowError:
        raise out_of_range from None


_FILTER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_FILTER_KEYWORDS = ("and", "or", "not", "in", "true", "false", "null")


def check_search_attribute_name(name: str) -> None:
    """Refuse a key the filter language could never name: not a filter word, or a
    built-in field (``status``, ``type``, ``id``...), which a filter reads as the built-in."""
    if not isinstance(name, str) or not _FILTER_NAME.fullmatch(name):
        raise UsageError(
            f"bad search attribute name {name!r}: use a letter or _ first, then letters, "
            "digits, _, . or - (a filter could not name it otherwise)"
        )
    if name in BUILTIN_FIELDS or name.lower() in _FILTER_KEYWORDS:
        raise UsageError(
            f"search attribute name {name!r} is reserved: a filter would read it as the "
            "built-in field or keyword"
        )


def parse_search_attributes(texts: Sequence[str]) -> dict[str, Any] | None:
    """``["customer=\"acme\"", "amount=150"]`` -> ``{"customer": "acme", "amount": 150}``.

    Each text is ``KEY=JSON``; a key may be given once. ``None`` for no texts.
    """
    if not texts:
        return None
    found: dict[str, Any] = {}
    for text in texts:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"search attribute {text!r} is not KEY=JSON (e.g. customer='\"acme\"', "
                "amount=150)"
            )
        check_search_attribute_name(key)
        if key in found:
            raise UsageError(f"search attribute {key!r} is given twice")
        found[key] = serde.loads_arg(raw, what=f"search attribute {key} ({raw!r})")
    serde.dumps(found, what="search attributes")
    return found


def check_filter(text: str) -> Node:
    """Parse a ``list --query`` filter, built-in field values included; raises
    :class:`~._filters.FilterError` (a usage error, with the position)."""
    return parse_filter(text)


def _statuses(status: str | Sequence[str] | None) -> list[str]:
    raw = [status] if isinstance(status, str) else list(status or [])
    found: list[str] = []
    for item in raw:
        for part in item.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name not in RUN_STATUSES:
                raise UsageError(f"unknown status {part.strip()!r}; use one of {RUN_STATUSES}")
            if name not in found:
                found.append(name)
    return found


def check_start_options(
    search_attributes: dict[str, Any] | None = None,
    memo: Any = None,
    start_delay: Duration | None = None,
    priority: int | None = None,
    fairness_key: str | None = None,
) -> None:
    """Raise a :class:`~harvest_studio.UsageError` for start options that cannot be used."""
    check_priority(priority)
    if fairness_key is not None and not 0 < len(fairness_key) <= MAX_ID_LENGTH:
        raise UsageError(f"fairness_key must be a str of 1..{MAX_ID_LENGTH} characters")
    if search_attributes is not None:
        if not isinstance(search_attributes, dict):
            raise UsageError("search attributes must be a JSON object of KEY: value")
        for key in search_attributes:
            check_search_attribute_name(key)
        serde.dumps(search_attributes, what="search attributes")
    if memo is not None:
        serde.dumps(memo, what="memo")
    if start_delay is not None:
        to_seconds(start_delay)


def check_signal(name: str, payload: Any = None, idempotency_key: str | None = None) -> None:
    """Raise :class:`~harvest_studio.UsageError` (or ``PayloadError``) for a signal that
    cannot be sent: no name, an empty idempotency key, a payload that is not JSON."""
    if not name or not isinstance(name, str):
        raise UsageError("a signal needs a name")
    check_name("a signal name", name)
    if idempotency_key is not None and not idempotency_key:
        raise UsageError("an idempotency key must not be empty")
    check_text("an idempotency key", idempotency_key, MAX_ID_LENGTH, optional=True)
    serde.dumps(payload, what=f"payload of signal {name!r}")


MAX_WAIT = 86_400.0  # seconds a command waits for an answer at most


def check_wait(timeout: Any) -> float:
    """A timeout a command can wait: a finite number of seconds in (0, MAX_WAIT]."""
    if (isinstance(timeout, bool) or not isinstance(timeout, int | float)
            or not math.isfinite(timeout) or not 0 < timeout <= MAX_WAIT):
        raise UsageError(
            f"timeout must be a number of seconds above 0 and at most {MAX_WAIT:g}, "
            f"got {timeout!r}")
    return float(timeout)


def check_call(kind: str, name: str, args: Sequence[Any], timeout: float) -> None:
    """Check a query or update before the database is touched."""
    if not name or not isinstance(name, str):
        raise UsageError(f"a{'n' if kind[0] in 'aeiou' else ''} {kind} needs a name")
    check_name(f"a{'n' if kind[0] in 'aeiou' else ''} {kind} name", name)
    check_wait(timeout)
    serde.dumps(list(args), what=f"{kind} arguments")


def check_reset(to_event: int | None, to: str | None, reapply_signals: str) -> None:
    """Check reset options before the database is touched."""
    if (to_event is None) == (to is None):
        raise UsageError("give exactly one of --to-event N or --to "
                         f"{'|'.join(RESET_TARGETS)}")
    if to_event is not None and (isinstance(to_event, bool) or to_event < 1):
        raise UsageError("the event number must be >= 1")
    if to is not None and to not in RESET_TARGETS:
        raise UsageError(f"unknown reset target {to!r}; use one of {', '.join(RESET_TARGETS)}")
    if reapply_signals not in REAPPLY_MODES:
        raise UsageError(
            f"reapply_signals must be one of {', '.join(REAPPLY_MODES)}, not {reapply_signals!r}"
        )
