"""The phone is in use while it is asked whether a post exists: the lease stays alive."""

import time

import pytest
from django.db import OperationalError
from django.utils import timezone

from devices.backends.simulator import SimulatorBackend
from posting.execution import run_attempt
from posting.models import Attempt, JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed

# The watch thread writes through its own connection: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_lease_is_extended_while_verification_outlasts_it(settings, monkeypatch):
    settings.LEASE_SECONDS = 0.6
    device = make_device(capabilities={"script": {"J1": ["fail_after_checkpoint"]}})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    expired_while_checking = []

    def slow_lookup(self, request):
        for _ in range(8):  # 1.6 s: well past the 0.6 s lease
            time.sleep(0.2)
            expired_while_checking.append(Attempt.objects.lease_expired(timezone.now()).exists())
        return False

    monkeypatch.setattr(SimulatorBackend, "was_published", slow_lookup)
    report = run_attempt(refreshed(job), device, attempt)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.PENDING
    assert expired_while_checking == [False] * 8  # a sweep would never have taken it over


def test_a_verification_whose_lease_cannot_be_kept_is_cannot_tell(settings, monkeypatch):
    settings.LEASE_SECONDS = 0.6
    device = make_device(capabilities={"script": {"J1": ["fail_after_checkpoint"]}})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    closed = []

    def lookup_until_torn_down(self, request):
        for _ in range(20):
            time.sleep(0.1)
            if self._closed.is_set():
                closed.append(True)
                break
        return False  # an answer from a session that no longer owned the phone

    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(SimulatorBackend, "was_published", lookup_until_torn_down)
    report = run_attempt(refreshed(job), device, attempt)
    monkeypatch.setattr(Attempt, "extend_lease", locked)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.NEEDS_REVIEW
    assert closed == [True]  # torn down before the lease ended
    assert refreshed(job).error_type == "unverified_publish"
