"""Device health: streaks, quarantine with growing cooldowns, release, account failures exempt."""

from datetime import timedelta

import pytest
from django.utils import timezone

from posting.models import Outcome
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def fail(device, category, error_type, **job_fields):
    job = make_job(account=make_account(device=device), **job_fields)
    attempt = claim(job, device)
    report = Outcome.failed("boom", category, error_type, "test")
    settle_report(attempt, report, timezone.now())
    return refreshed(device)


def test_three_infrastructure_failures_in_a_row_quarantine_the_device():
    device = make_device()
    fail(device, "infrastructure", "adb_timeout")
    fail(device, "infrastructure", "connection_dropped")
    assert refreshed(device).health == "online"
    device = fail(device, "infrastructure", "adb_timeout")
    assert device.health == "quarantined"
    assert device.quarantined_until == pytest.approx(
        timezone.now() + timedelta(minutes=10), abs=timedelta(seconds=5)
    )


def test_the_cooldown_grows_on_repeat():
    device = make_device()
    device.quarantine(timezone.now(), "first")
    first = device.quarantined_until - timezone.now()
    device.release_quarantine(timezone.now())
    device.quarantine(timezone.now(), "second")
    second = device.quarantined_until - timezone.now()
    assert second > first * 1.9


def test_account_failures_do_not_count_against_the_device():
    device = make_device()
    for _ in range(4):
        device = fail(device, "account", "captcha")
    assert device.failure_streak == 0
    assert device.health == "online"


def test_a_success_ends_the_streak():
    device = make_device()
    fail(device, "infrastructure", "adb_timeout")
    job = make_job(account=make_account(device=device))
    settle_report(claim(job, device), Outcome(True), timezone.now())
    assert refreshed(device).failure_streak == 0


def test_a_lost_worker_does_not_count_against_the_device():
    device = make_device()
    for _ in range(4):
        device = fail(device, "infrastructure", "worker_lost")
    assert device.health == "online"


def test_release_ends_a_quarantine_early():
    device = make_device()
    device.quarantine(timezone.now(), "sick")
    assert device.release_quarantine(timezone.now())
    assert refreshed(device).health == "online"
    assert not device.release_quarantine(timezone.now())
