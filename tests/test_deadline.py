"""Job timeouts: a deadline thread tears the session down; nothing waits on django-q's alarm."""

import signal

import pytest
from django.utils import timezone

from posting.execution import run_attempt
from posting.models import JobStatus
from posting.outcomes import settle_report
from posting.runner import DeviceRunner
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def test_a_hanging_job_is_stopped_by_the_deadline_and_recorded_as_job_timeout():
    device = make_device(capabilities={"script": {"J1": ["hang"]}})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    alarm_before = signal.getsignal(signal.SIGALRM)
    report = run_attempt(refreshed(job), device, attempt, timeout=0.2)
    assert signal.getsignal(signal.SIGALRM) == alarm_before  # no alarm of our own
    assert report.timed_out
    assert (report.category, report.error_type) == (
        "infrastructure",
        "job_timeout",
    )
    assert report.error.startswith("Job timed out after 0.2 s")
    assert settle_report(attempt, report, timezone.now()) == JobStatus.PENDING


def test_the_device_goes_on_with_its_next_job_after_a_timeout(settings):
    settings.JOB_TIMEOUT = 0.2
    device = make_device(capabilities={"script": {"J1": ["hang", "hang", "hang"]}})
    account = make_account(device=device)
    make_job("J1", account=account, max_attempts=1)
    make_job("J2", account=account)
    summary = DeviceRunner(device, idle_wait=0).run()
    assert summary.attempts == 2
    assert refreshed(account).jobs.get(job_id="J1").error_type == "job_timeout"
    assert refreshed(account).jobs.get(job_id="J2").status == JobStatus.SUCCESS
