"""Retry policies for activities: exponential backoff with full jitter."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .durations import Duration, to_seconds
from .errors import UsageError


@dataclass(frozen=True)
class RetryPolicy:
    """How an activity is retried.

    ``max_attempts`` counts every attempt (1 means no retry, 0 means unlimited).
    The n-th retry waits ``min(initial_interval * backoff_coefficient**(n-1), max_interval)``
    with jitter (a uniformly random share of that wait, between ``1 - jitter`` and 1).
    ``non_retryable`` lists exception class names that stop retries at once.

    >>> RetryPolicy(max_attempts=5, initial_interval="1s", max_interval="1m").max_attempts
    5
    """

    max_attempts: int = 3
    initial_interval: Duration = 1.0
    backoff_coefficient: float = 2.0
    max_interval: Duration = 100.0
    non_retryable: Sequence[str] = field(default_factory=tuple)
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 0:
            raise UsageError("max_attempts must be >= 0 (0 means unlimited)")
        if self.backoff_coefficient < 1:
            raise UsageError("backoff_coefficient must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise UsageError("jitter must be between 0 and 1")
        to_seconds(self.initial_interval)
        to_seconds(self.max_interval)
        object.__setattr__(self, "non_retryable", tuple(self.non_retryable))

    def to_json(self) -> dict[str, Any]:
        return {
            "max_attempts": self.max_attempts,
            "initial_interval": to_seconds(self.initial_interval),
            "backoff_coefficient": self.backoff_coefficient,
            "max_interval": to_seconds(self.max_interval),
            "non_retryable": list(self.non_retryable),
            "jitter": self.jitter,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetryPolicy:
        return cls(**data)


def retry_delay(
    policy: dict[str, Any], finished_attempt: int, rng: random.Random | None = None
) -> float | None:
    """Seconds to wait before the next attempt, or ``None`` when attempts are exhausted."""
    max_attempts = int(policy.get("max_attempts", 3))
    if max_attempts and finished_attempt >= max_attempts:
        return None
    base = float(policy.get("initial_interval", 1.0)) * float(
        policy.get("backoff_coefficient", 2.0)
    ) ** (finished_attempt - 1)
    wait = min(base, float(policy.get("max_interval", 100.0)))
    jitter = float(policy.get("jitter", 0.2))
    share = 1.0 - jitter * (rng or random).random()
    return wait * share


def is_retryable(policy: dict[str, Any], error_type: str, non_retryable_flag: bool) -> bool:
    if non_retryable_flag:
        return False
    return error_type not in set(policy.get("non_retryable", ()))
