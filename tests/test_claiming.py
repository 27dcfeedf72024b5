"""Claims: one winner, database-enforced single running attempt, priority order."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from posting.claiming import claim_next_job, open_attempt
from posting.models import Attempt, Job, JobStatus
from tests.factories import (
    NOW,
    make_account,
    make_device,
    make_job,
    make_stray_running_attempt,
    refreshed,
)

pytestmark = pytest.mark.django_db


def test_of_two_claimers_of_one_job_exactly_one_wins():
    device = make_device()
    job = make_job(account=make_account(device=device))
    first = open_attempt(job, device, now=timezone.now())
    second = open_attempt(job, device, now=timezone.now())  # a duplicate delivery
    assert first is not None
    assert second is None
    assert Attempt.objects.count() == 1
    job = refreshed(job)
    assert (job.status, job.attempts, job.lease_token) == ("running", 1, first.lease_token)


def test_a_duplicate_device_task_claims_nothing_while_the_device_runs():
    device = make_device()
    account = make_account(device=device)
    make_job("J1", account=account)
    make_job("J2", account=make_account(device=device))
    assert claim_next_job(device, now=timezone.now()) is not None
    assert claim_next_job(device, now=timezone.now()) is None
    assert Attempt.objects.running().count() == 1
    # The refused attempt took its claim with it: J2 waits, its attempt count unchanged.
    waiting = Job.objects.get(job_id="J2")
    assert (waiting.status, waiting.attempts, waiting.lease_token) == ("pending", 0, None)


def test_a_claim_of_a_named_job_on_a_busy_device_is_refused_and_leaves_the_job_waiting():
    device = make_device()
    assert open_attempt(make_job("J1", account=make_account(device=device)), device, now=NOW)
    other = make_job("J2", account=make_account(device=device))
    assert open_attempt(other, device, now=timezone.now()) is None
    other = refreshed(other)
    assert (other.status, other.attempts, other.lease_token) == ("pending", 0, None)
    assert Attempt.objects.count() == 1


def test_the_database_refuses_a_second_running_attempt_on_a_device():
    device = make_device()
    first = open_attempt(make_job(account=make_account(device=device)), device, now=timezone.now())
    other = make_job(account=make_account(device=make_device()))
    with pytest.raises(IntegrityError), transaction.atomic():
        Attempt.objects.create(
            job=other,
            device=device,
            pass_number=1,
            number=1,
            started_at=timezone.now(),
            lease_expires_at=timezone.now(),
        )
    assert first.outcome == "running"


def test_the_database_refuses_a_second_running_attempt_of_a_job():
    job = make_job(account=make_account(device=make_device()))
    open_attempt(job, job.account.device, now=timezone.now())
    with pytest.raises(IntegrityError), transaction.atomic():
        make_stray_running_attempt(job, number=2)


def test_higher_priority_runs_first_then_import_order():
    device = make_device()
    account = make_account(device=device)
    make_job("low", account=account)
    make_job("high", account=account, priority=5)
    make_job("low2", account=account)
    attempt = claim_next_job(device, now=timezone.now())
    assert attempt.job.job_id == "high"


def test_a_claim_records_pass_attempt_number_lease_and_cluster():
    device = make_device()
    job = make_job(account=make_account(device=device), pass_number=2, attempts=1)
    attempt = claim_next_job(device, now=timezone.now(), cluster="rack-a")
    assert (attempt.pass_number, attempt.number, attempt.cluster) == (2, 2, "rack-a")
    assert attempt.lease_expires_at > attempt.started_at
    assert refreshed(job).status == JobStatus.RUNNING
    stored = refreshed(attempt)  # as the database holds it, however it was inserted
    assert (stored.job_id, stored.pass_number, stored.number) == (job.pk, 2, 2)
    assert (stored.lease_token, stored.cluster, stored.outcome) == (
        attempt.lease_token,
        "rack-a",
        "running",
    )
    assert stored.started_at == attempt.started_at


def test_a_claim_of_a_named_job_records_its_attempt_as_stored():
    device = make_device()
    job = make_job(account=make_account(device=device), pass_number=3, attempts=2)
    attempt = open_attempt(job, device, now=timezone.now(), cluster="rack-b")
    stored = refreshed(attempt)
    assert (stored.job_id, stored.pass_number, stored.number) == (job.pk, 3, 3)
    assert (attempt.job_id, attempt.pass_number, attempt.number) == (job.pk, 3, 3)
    assert (stored.cluster, stored.lease_token) == ("rack-b", refreshed(job).lease_token)
