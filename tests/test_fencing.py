"""Lease tokens fence every write of a running attempt and its job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from posting.models import AttemptOutcome, JobStatus, LeaseLost, Outcome
from posting.outcomes import settle_report
from posting.sweep import recover_lost_attempts
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db

SUCCESS = Outcome(True)


def test_a_stale_worker_cannot_record_an_outcome_after_its_lease_was_taken_over(clock):
    device = make_device()
    job = make_job(account=make_account(device=device))
    stale = claim(job, device)
    clock.shift(timedelta(minutes=5))
    assert recover_lost_attempts(None, timezone.now()) == 1
    assert refreshed(job).status == JobStatus.PENDING  # worker_lost is retried

    assert settle_report(stale, SUCCESS, timezone.now()) is None
    stale.refresh_from_db()
    assert stale.outcome == AttemptOutcome.LOST
    assert (stale.error_category, stale.error_type) == ("infrastructure", "worker_lost")
    assert refreshed(job).status == JobStatus.PENDING


def test_a_stale_worker_cannot_pass_the_publishing_checkpoint(clock):
    device = make_device()
    attempt = claim(make_job(account=make_account(device=device)), device)
    clock.shift(timedelta(minutes=5))
    with pytest.raises(LeaseLost):
        attempt.mark_checkpoint(timezone.now())


def test_a_stale_worker_cannot_extend_a_lease_it_lost(clock):
    device = make_device()
    job = make_job(account=make_account(device=device))
    attempt = claim(job, device)
    clock.shift(timedelta(minutes=5))
    recover_lost_attempts(None, timezone.now())
    assert not attempt.extend_lease(timezone.now(), 30)


def test_the_owner_records_exactly_once():
    device = make_device()
    job = make_job(account=make_account(device=device))
    attempt = claim(job, device)
    assert settle_report(attempt, SUCCESS, timezone.now()) == JobStatus.SUCCESS
    assert settle_report(attempt, SUCCESS, timezone.now()) is None
    assert refreshed(job).lease_token is None
