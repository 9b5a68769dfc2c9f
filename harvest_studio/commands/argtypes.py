"""argparse value types shared by the ``harvest`` command line and the ``%harvest`` magic."""

from __future__ import annotations

import argparse

from ..model.durations import to_seconds
from ..model.errors import UsageError


def seconds(text: str) -> float:
    """A duration (``30``, ``"5m"``, ``"1h30m"``) in seconds."""
    try:
        return to_seconds(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}: {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer(text, 1)


def nonnegative_int(text: str) -> int:
    return _integer(text, 0)
