"""update_job_status takes few round trips: its cost per call is what the legacy tracker's
users feel, and each statement costs CPU on both sides of the connection."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from posting.claiming import open_attempt
from posting.models import Attempt, JobStatus
from posting.tracking import update_job_status
from tests.factories import NOW, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def counting_locks(monkeypatch) -> list[int]:
    """The devices whose lock statement is made (lock_for_update's, or one sent with other
    statements), in order."""
    taken = []
    locking = Device.locking

    def counted(device):
        taken.append(device.pk)
        return locking(device)

    monkeypatch.setattr(Device, "locking", counted)
    return taken


@pytest.mark.parametrize(
    ("status", "error"), [("success", ""), ("failed", "TimeoutError: adb did not answer")]
)
def test_a_call_that_opens_the_attempt_locks_its_device_once(monkeypatch, status, error):
    device = make_device()
    job = make_job("J1", account=make_account(device=device))
    taken = counting_locks(monkeypatch)
    update_job_status("J1", status, None, error=error)
    assert taken == [device.pk]
    ended = refreshed(job)
    assert ended.status == (JobStatus.SUCCESS if status == "success" else JobStatus.PENDING)
    attempt = Attempt.objects.get(job=job)
    assert attempt.finished_at >= attempt.started_at


def test_a_call_on_a_running_job_locks_its_device_before_recording(monkeypatch):
    device = make_device()
    job = make_job("J1", account=make_account(device=device))
    update_job_status("J1", "failed", None, error="TimeoutError: adb did not answer")
    attempt = open_attempt(refreshed(job), device, now=NOW)
    taken = counting_locks(monkeypatch)
    update_job_status("J1", "success", None, lease_token=attempt.lease_token)
    assert taken == [device.pk]
    assert refreshed(job).status == JobStatus.SUCCESS


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's round trips")
def test_on_postgresql_a_reported_success_takes_four_statements_in_its_transaction():
    device = make_device(last_seen_at=timezone.now())  # seen lately: its health is not written
    make_job("J1", account=make_account(device=device))
    with CaptureQueriesContext(connection) as context:
        update_job_status("J1", "success", None)
    sent = [q["sql"] for q in context.captured_queries if not q["sql"].startswith(CONTROL)]
    # The job, the device's lock, the claim and its attempt in one statement, and the
    # attempt's, job's and account's ends in another (and BEGIN and COMMIT around them).
    assert len(sent) <= 4, "\n".join(s[:120] for s in sent)
