"""Durations, retry policies, payloads and the event schema."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

import harvest_studio as hs
from harvest_studio.model import events, serde
from harvest_studio.model.durations import to_seconds
from harvest_studio.model.retry import is_retryable, retry_delay


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("3d", 259200), ("1h30m", 5400), ("250ms", 0.25), (2, 2.0),
     ("1.5", 1.5), (timedelta(minutes=1), 60)],
)
def test_durations(text: object, seconds: float) -> None:
    assert to_seconds(text) == pytest.approx(seconds)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "5x", "-1", "s", "1h 2", True, None])
def test_bad_durations_are_typed_errors(bad: object) -> None:
    with pytest.raises(hs.DurationError):
        to_seconds(bad)  # type: ignore[arg-type]


def test_retry_delays_grow_and_cap() -> None:
    policy = hs.RetryPolicy(
        max_attempts=5, initial_interval="1s", backoff_coefficient=2, max_interval="3s", jitter=0
    ).to_json()
    assert [retry_delay(policy, n) for n in range(1, 6)] == [1, 2, 3, 3, None]


def test_retry_jitter_stays_within_share() -> None:
    policy = hs.RetryPolicy(initial_interval=10, jitter=0.5).to_json()
    rng = random.Random(1)
    delays = [retry_delay(policy, 1, rng) for _ in range(200)]
    assert all(d is not None and 5 <= d <= 10 for d in delays)


def test_unlimited_attempts_and_non_retryable() -> None:
    policy = hs.RetryPolicy(max_attempts=0, non_retryable=["ValueError"]).to_json()
    assert retry_delay(policy, 1000) is not None
    assert not is_retryable(policy, "ValueError", False)
    assert not is_retryable(policy, "KeyError", True)
    assert is_retryable(policy, "KeyError", False)


def test_bad_retry_policy() -> None:
    with pytest.raises(hs.UsageError):
        hs.RetryPolicy(backoff_coefficient=0.5)


def test_payloads_must_be_json() -> None:
    with pytest.raises(hs.PayloadError):
        serde.dumps(object())
    with pytest.raises(hs.PayloadError):
        serde.dumps(float("nan"))
    with pytest.raises(hs.PayloadTooLargeError):
        serde.dumps("x" * (serde.MAX_PAYLOAD_BYTES + 1))


def test_every_event_type_round_trips() -> None:
    for name, cls in events.EVENT_TYPES.items():
        assert cls.type_name == name
    event = events.ActivityFailed(2, 1, {"type": "E"}, retrying=True, next_attempt_in=1.5)
    again = events.decode("ActivityFailed", {**event.fields(), "future_field": 1})
    assert again == event


def test_workflow_must_be_async() -> None:
    with pytest.raises(hs.UsageError):
        hs.workflow(lambda ctx: None)


def test_activity_options() -> None:
    @hs.activity(start_to_close="1m", queue="email", max_concurrent=2)
    def send(ctx: hs.ActivityContext) -> None:
        return None

    assert send.options.start_to_close == 60 and send.options.queue == "email"
    with pytest.raises(hs.UsageError):
        hs.activity(max_concurrent=0)
