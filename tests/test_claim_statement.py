"""The claim: one read of the device's accounts with the device, then one conditional UPDATE
with its attempt."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from posting import statements
from posting.claiming import claim_next_job
from posting.models import Attempt, JobStatus
from tests.factories import make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def _statements(context) -> list[str]:
    """The statements sent, without transaction control."""
    control = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
    return [q["sql"] for q in context.captured_queries if not q["sql"].startswith(control)]


def test_a_claim_reads_the_accounts_with_the_device_then_updates_the_job_and_opens_its_attempt():
    device = make_device()
    for _ in range(3):
        make_job(account=make_account(device=device))
    with CaptureQueriesContext(connection) as context:
        attempt = claim_next_job(device, now=timezone.now())
    assert attempt is not None
    sent = _statements(context)
    kinds = [sql.split()[0] for sql in sent]
    if connection.vendor == "postgresql":
        # The device's row lock, then the claim and its attempt in one statement.
        assert kinds == ["SELECT", "SELECT", "WITH"]
        assert "FOR UPDATE" in sent[1]
        assert "UPDATE" in sent[2] and "INSERT INTO" in sent[2]
    else:
        assert kinds == ["SELECT", "UPDATE", "INSERT"]
    assert '"devices_device"' in sent[0]  # the accounts' read carries the device


def test_the_claimed_job_carries_what_its_attempt_needs():
    device = make_device()
    account = make_account(device=device)
    make_job("J-claimed", account=account, pass_number=2, attempts=1, priority=3)
    attempt = claim_next_job(device, now=timezone.now(), cluster="rack-a")
    job = attempt.job
    assert (job.job_id, job.account.handle, job.attempts, job.pass_number) == (
        "J-claimed",
        account.handle,
        2,
        2,
    )
    assert (job.status, job.lease_token, job.device) == (
        JobStatus.RUNNING,
        attempt.lease_token,
        device,
    )
    stored = refreshed(job)
    assert (stored.status, stored.attempts, stored.lease_token) == (
        "running",
        2,
        attempt.lease_token,
    )
    assert (attempt.number, attempt.pass_number, attempt.cluster) == (2, 2, "rack-a")


def test_without_update_returning_the_claim_reads_the_job_then_claims_it_by_row_count(monkeypatch):
    monkeypatch.setattr(statements, "supports_returning", lambda: False)
    device = make_device()
    account = make_account(device=device)
    make_job("J-1", account=account, priority=1)
    make_job("J-2", account=make_account(device=device))
    first = claim_next_job(device, now=timezone.now())
    assert first.job.job_id == "J-1"
    assert first.job.attempts == 1
    assert refreshed(first.job).attempts == 1
    # the device runs one attempt at a time: the second claim is refused by the database
    assert claim_next_job(device, now=timezone.now()) is None
    assert Attempt.objects.running().count() == 1


def test_a_job_of_another_devices_account_is_never_claimed():
    device, other = make_device(), make_device()
    make_job(account=make_account(device=other))
    assert claim_next_job(device, now=timezone.now()) is None


def test_a_device_without_postable_accounts_is_not_read_at_all():
    device = make_device()
    make_job(account=make_account(device=device, status="captcha"))
    with CaptureQueriesContext(connection) as context:
        assert claim_next_job(device, now=timezone.now()) is None
    assert len(_statements(context)) == 1


def test_a_rate_limited_account_posts_again_once_its_cooldown_ended(clock):
    device = make_device()
    account = make_account(
        device=device, status="rate_limited", held_until=timezone.now() + timedelta(minutes=5)
    )
    make_job(account=account)
    assert claim_next_job(device, now=timezone.now()) is None
    clock.shift(timedelta(minutes=6))
    assert claim_next_job(device, now=timezone.now()) is not None
