"""Durations: seconds, or strings like ``"250ms"``, ``"30s"``, ``"5m"``, ``"1h30m"``, ``"3d"``."""

from __future__ import annotations

import re
from datetime import timedelta

from .errors import DurationError

Duration = float | int | str | timedelta

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def to_seconds(value: Duration) -> float:
    """Convert a duration to seconds.

    >>> to_seconds("1h30m")
    5400.0
    >>> to_seconds(2.5)
    2.5
    """
    if isinstance(value, bool):
        raise DurationError(f"not a duration: {value!r}")
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            return _nonnegative(float(text), value)
        except ValueError:
            pass
        pos = 0
        seconds = 0.0
        for match in _PART.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNITS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise DurationError(
                f"not a duration: {value!r} (use seconds or e.g. '30s', '5m', '2h', '3d')"
            )
    else:
        raise DurationError(f"not a duration: {value!r}")
    return _nonnegative(seconds, value)


def optional_seconds(value: Duration | None) -> float | None:
    return None if value is None else to_seconds(value)


MAX_SECONDS = 100 * 365.25 * 86400  # a century: longer is a typo, and datetimes overflow


def _nonnegative(seconds: float, original: object) -> float:
    if seconds < 0 or seconds != seconds:
        raise DurationError(f"duration must be a non-negative number: {original!r}")
    if seconds > MAX_SECONDS:
        raise DurationError(f"duration too long: {original!r} (at most 100 years)")
    return seconds
