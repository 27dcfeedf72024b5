"""The dashboard's hourly throughput is counted as attempts finish and agrees with the
attempts themselves: successes, and failures (lost workers included), in the hour each ended."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from posting.dashboard import THROUGHPUT_HOURS, throughput
from posting.models import Attempt, AttemptOutcome, HourlyOutcome, Outcome
from posting.outcomes import settle_report
from posting.sweep import recover_lost_attempts
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db

ADB = Outcome.failed("TimeoutError: adb", "infrastructure", "adb_timeout", "t")


def attempt_once(job, outcome: Outcome) -> None:
    settle_report(claim(refreshed(job)), outcome, timezone.now())


def from_attempts(hours: list[str]) -> dict[str, tuple[int, int]]:
    """(successes, failures) per hour, counted from the attempts."""
    counts = dict.fromkeys(hours, (0, 0))
    for attempt in Attempt.objects.exclude(finished_at=None):
        hour = attempt.finished_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        key = hour.isoformat()
        if key in counts:
            success, failed = counts[key]
            won = attempt.outcome == AttemptOutcome.SUCCESS
            counts[key] = (success + won, failed + (not won))
    return counts


def test_hourly_counts_match_the_attempts_across_hours(clock):
    clock.shift(datetime(2026, 11, 28, 9, 50, tzinfo=UTC) - timezone.now())
    first, second, third = (make_job(account=make_account(device=make_device())) for _ in "123")
    attempt_once(first, ADB)  # 09:50, retried
    attempt_once(second, Outcome(True))
    clock.shift(timedelta(minutes=15))  # 10:05
    attempt_once(first, ADB)
    claim(refreshed(first))
    clock.shift(timedelta(minutes=5))  # 10:10: the sweep finds the dead worker's attempt
    assert recover_lost_attempts(None, timezone.now()) == 1
    attempt_once(third, Outcome(True))

    points = throughput(timezone.now())
    assert len(points) == THROUGHPUT_HOURS
    shown = {p["hour"]: (p["success"], p["failed"]) for p in points}
    assert shown == from_attempts(list(shown))
    assert shown["2026-11-28T09:00:00+00:00"] == (1, 1)
    assert shown["2026-11-28T10:00:00+00:00"] == (1, 2)


def test_recount_rebuilds_the_hours_from_the_attempts():
    job = make_job(account=make_account(device=make_device()))
    attempt_once(job, ADB)
    attempt_once(job, Outcome(True))
    recorded = list(HourlyOutcome.objects.values_list("hour", "outcome", "attempts"))
    HourlyOutcome.objects.all().delete()
    HourlyOutcome.objects.recount()
    assert sorted(HourlyOutcome.objects.values_list("hour", "outcome", "attempts")) == sorted(
        recorded
    )
