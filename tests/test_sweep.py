"""The sweep: lost attempts recovered with a category, idle devices with due work woken."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from devices.models import PublishRecord
from posting.models import AttemptOutcome, JobStatus
from posting.sweep import sweep
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def test_an_attempt_whose_lease_expired_before_the_checkpoint_is_lost_and_retried(clock):
    device = make_device()
    job = make_job(account=make_account(device=device))
    attempt = claim(job, device)
    clock.shift(timedelta(minutes=2))
    assert sweep().recovered == 1
    attempt.refresh_from_db()
    assert attempt.outcome == AttemptOutcome.LOST
    assert (attempt.error_category, attempt.error_type) == ("infrastructure", "worker_lost")
    assert refreshed(job).status == JobStatus.PENDING


def test_a_lost_attempt_after_the_checkpoint_whose_post_exists_is_a_success(clock):
    device = make_device()
    job = make_job("J1", account=make_account("@a", device=device))
    attempt = claim(job, device)
    attempt.mark_checkpoint(timezone.now())
    PublishRecord.objects.create(device_name=device.name, job_id="J1", account_handle="@a")
    clock.shift(timedelta(minutes=2))
    sweep()
    assert refreshed(job).status == JobStatus.SUCCESS
    assert refreshed(attempt).matched_rule == "verified posted after: lease expired"


def test_a_lost_attempt_after_the_checkpoint_that_cannot_be_verified_needs_review(clock):
    device = make_device(capabilities={"verifiable": False})
    job = make_job(account=make_account(device=device))
    attempt = claim(job, device)
    attempt.mark_checkpoint(timezone.now())
    clock.shift(timedelta(minutes=2))
    sweep()
    job = refreshed(job)
    assert job.status == JobStatus.NEEDS_REVIEW
    assert refreshed(attempt).outcome == AttemptOutcome.LOST


def test_a_live_lease_is_left_alone():
    device = make_device()
    claim(make_job(account=make_account(device=device)), device)
    assert sweep().recovered == 0


def test_idle_devices_with_due_work_are_woken_and_others_are_not():
    busy_free = make_device("with-work")
    make_job(account=make_account(device=busy_free))
    make_device("without-work")
    assert sweep().woken == 1
    assert [row.task["args"] for row in OrmQ.objects.all()] == [(busy_free.pk,)]


def test_the_sweep_of_one_host_leaves_other_hosts_alone(clock):
    here, there = make_device(host="a"), make_device(host="b")
    claim(make_job(account=make_account(device=here)), here)
    claim(make_job(account=make_account(device=there)), there)
    clock.shift(timedelta(minutes=2))
    assert sweep("a").recovered == 1
    assert sweep("b").recovered == 1


def test_a_quarantined_device_that_passes_its_probe_is_released(clock, settings):
    device = make_device()
    device.quarantine(timezone.now(), "three timeouts")
    sweep()
    assert refreshed(device).health == "quarantined"  # too soon to probe
    clock.shift(timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS + 1))
    sweep()
    assert refreshed(device).health == "online"


def test_a_quarantined_device_that_fails_its_probe_stays_quarantined(clock, settings):
    device = make_device(capabilities={"probe": "fail"})
    device.quarantine(timezone.now(), "three timeouts")
    clock.shift(timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS + 1))
    sweep()
    assert refreshed(device).health == "quarantined"


def test_a_pass_whose_jobs_all_ended_is_finished_and_announced_once(caplog):
    from posting.models import Pass

    device = make_device()
    job = make_job(account=make_account(device=device))
    sweep()
    assert Pass.objects.get(number=1).finished_at is None  # a job still waits
    job.cancel()
    with caplog.at_level("WARNING", logger="posting.notifications"):
        sweep()
        sweep()
    assert Pass.objects.get(number=1).finished_at is not None
    announced = [m for m in caplog.messages if m.startswith("pass_finished: Pass 1 finished")]
    assert announced == ["pass_finished: Pass 1 finished: cancelled 1"]
