"""The retry policy: backoff, caps, holds and which categories retry at all."""

import random
from datetime import UTC, datetime, timedelta

from retries.policy import RetryPolicy, decide_retry

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    base_delay_minutes=2, max_delay_minutes=30, jitter=0, rate_limit_cooldown_minutes=60
)


def decide(category, error_type, attempts=1, max_attempts=3, **kwargs):
    return decide_retry(
        category,
        error_type,
        attempts=attempts,
        max_attempts=max_attempts,
        now=NOW,
        policy=POLICY,
        **kwargs,
    )


def test_infrastructure_failures_retry_with_exponential_backoff():
    assert decide("infrastructure", "adb_timeout", attempts=1).retry_at == NOW + timedelta(
        minutes=2
    )
    assert decide("infrastructure", "adb_timeout", attempts=2).retry_at == NOW + timedelta(
        minutes=4
    )


def test_backoff_is_capped():
    decision = decide("infrastructure", "adb_timeout", attempts=9, max_attempts=20)
    assert decision.retry_at == NOW + timedelta(minutes=30)


def test_jitter_stays_within_its_fraction():
    policy = RetryPolicy(2, 30, 0.2, 60)
    delays = {policy.backoff(1, rng=random.Random(seed)) for seed in range(50)}
    assert all(timedelta(minutes=1.6) <= d <= timedelta(minutes=2.4) for d in delays)
    assert len(delays) > 1


def test_infrastructure_failures_stop_at_max_attempts():
    decision = decide("infrastructure", "connection_dropped", attempts=3, max_attempts=3)
    assert not decision.retry
    assert not decision.hold_account


def test_account_failures_are_never_retried_and_hold_the_account():
    for error_type in ("suspended", "captcha", "loggedout"):
        decision = decide("account", error_type, attempts=1)
        assert not decision.retry
        assert decision.hold_account


def test_rate_limits_hold_until_the_cooldown_and_retry_after_it():
    decision = decide("account", "rate_limited")
    assert decision.retry
    assert decision.hold_account
    assert decision.hold_until == NOW + timedelta(minutes=60)
    assert decision.retry_at == decision.hold_until


def test_content_and_unknown_failures_are_not_retried_and_hold_nothing():
    for category, error_type in [("content", "media_missing"), ("unknown", "")]:
        decision = decide(category, error_type)
        assert not decision.retry
        assert not decision.hold_account


def test_a_callers_retry_delay_replaces_the_base_delay():
    decision = decide("infrastructure", "adb_timeout", retry_delay_minutes=5)
    assert decision.retry_at == NOW + timedelta(minutes=5)
