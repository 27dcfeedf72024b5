"""Why a pending job waits, as the job list shows it: derived from the rows, first reason wins."""

from datetime import timedelta

import pytest
from django.utils import timezone

from devices.models import DeviceHealth
from posting.models import AccountStatus, FleetControl, Job, JobStatus, PauseScope, Platform
from posting.pauses import pause
from posting.waiting import WaitReason, jobs_waiting_because, waiting_because, with_wait_state
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def because(job) -> str:
    annotated = with_wait_state(Job.objects.select_related("account__device")).get(pk=job.pk)
    return waiting_because(annotated)


@pytest.fixture
def job():
    device = make_device("phone-1", host="rack-a")
    return make_job("J1", account=make_account("@a", device=device, platform=Platform.YOUTUBE))


def test_a_due_job_and_a_finished_one_wait_for_nothing(job):
    assert because(job) == ""
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCESS)
    assert because(job) == ""


def test_pauses_come_first_fleet_then_platform_then_host(job):
    now = timezone.now()
    pause(PauseScope.HOST, "rack-a", now=now, reason="")
    assert because(job) == "host rack-a paused"
    pause(PauseScope.PLATFORM, Platform.YOUTUBE, now=now, reason="")
    assert because(job) == "platform youtube paused"
    FleetControl.set_paused(True, now=now)
    assert because(job) == "fleet paused"


def test_account_and_device_states(job):
    account, device = job.account, job.account.device
    device.enabled = False
    device.save()
    assert because(job) == "device phone-1 disabled"
    account.hold(AccountStatus.CAPTCHA, "captcha", timezone.now())
    assert because(job).startswith("account @a held (captcha) since ")
    account.device = None
    account.save()
    assert because(job) == "no device bound to the account"


def test_quarantine_retry_schedule_and_pacing(job):
    now = timezone.now()
    device = job.account.device
    device.health, device.quarantined_until = DeviceHealth.QUARANTINED, now + timedelta(hours=1)
    device.save()
    assert because(job).startswith("device phone-1 quarantined until ")
    device.health, device.quarantined_until = DeviceHealth.ONLINE, None
    device.save()
    Job.objects.filter(pk=job.pk).update(retry_at=now + timedelta(hours=1), attempts=1)
    assert because(job).startswith("retry at ") and because(job).endswith("(attempt 2 of 3)")
    Job.objects.filter(pk=job.pk).update(retry_at=None, scheduled_at=now + timedelta(hours=1))
    assert because(job).startswith("scheduled for ")
    Job.objects.filter(pk=job.pk).update(scheduled_at=None)
    job.account.last_posted_at, job.account.min_post_interval = now, timedelta(hours=1)
    job.account.save()
    assert because(job).startswith("pacing until ")


def test_a_daily_cap_of_zero_reads_and_filters_as_pacing(job):
    job.account.daily_cap = 0
    job.account.save()
    assert because(job).startswith("pacing until ")
    waiting = jobs_waiting_because(Job.objects.all(), WaitReason.PACING, timezone.now())
    assert list(waiting) == [job]
