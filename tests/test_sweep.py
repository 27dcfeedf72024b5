"""The sweep: lost attempts recovered with a category, idle devices with due work woken."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from devices.models import PublishRecord
from posting import lifecycle
from posting.models import AttemptOutcome, JobStatus
from posting.sweep import sweep
from posting.tasks import probe_device_task
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


def run_queued_probes() -> list[str]:
    """Run the probe tasks the sweep asked for, as the host's cluster would."""
    results = []
    for row in OrmQ.objects.order_by("id"):
        if row.task["func"] == "posting.tasks.probe_device_task":
            results.append(probe_device_task(*row.task["args"]))
            row.delete()
    return results


def test_the_sweep_asks_for_a_probe_as_a_task_instead_of_probing_inline(clock, settings):
    device = make_device()
    device.quarantine(timezone.now(), "three timeouts")
    sweep()
    assert run_queued_probes() == []  # too soon to probe
    clock.shift(timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS + 1))
    report = sweep()
    assert report.probes == 1
    assert refreshed(device).health == "quarantined"  # nothing probed in the sweep itself
    assert sweep().probes == 0  # asked once, not on every heartbeat
    assert run_queued_probes() == [f"{device.name}: healthy"]
    assert refreshed(device).health == "online"


def test_a_quarantined_device_that_fails_its_probe_stays_quarantined(clock, settings):
    device = make_device(capabilities={"probe": "fail"})
    device.quarantine(timezone.now(), "three timeouts")
    clock.shift(timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS + 1))
    sweep()
    run_queued_probes()
    assert refreshed(device).health == "quarantined"


def test_one_failing_recovery_does_not_stop_the_others(clock, monkeypatch):
    from posting import lifecycle, outcomes

    jobs = [make_job(account=make_account(device=make_device())) for _ in range(3)]
    for job in jobs:
        claim(job, job.account.device)
    clock.shift(timedelta(minutes=2))
    real = outcomes.record_failure
    broken = jobs[0].pk

    def record_failure(attempt, *args, **kwargs):
        if attempt.job_id == broken:
            raise lifecycle.FencedWriteRefused("job is not held by this attempt")
        return real(attempt, *args, **kwargs)

    monkeypatch.setattr(outcomes, "record_failure", record_failure)
    report = sweep()
    assert report.recovered == 2
    assert [refreshed(j).status for j in jobs[1:]] == [JobStatus.PENDING, JobStatus.PENDING]


def test_a_failing_step_does_not_stop_the_rest_of_the_sweep(monkeypatch):
    from posting import sweep as sweep_module

    def broken(*args):
        raise RuntimeError("year 10000 is out of range")

    monkeypatch.setattr(sweep_module, "recover_lost_attempts", broken)
    device = make_device()
    make_job(account=make_account(device=device))
    report = sweep()
    assert (report.woken, report.failures) == (1, 1)


def test_a_pass_whose_jobs_all_ended_is_finished_and_announced_once(caplog):
    from posting.models import Pass

    device = make_device()
    job = make_job(account=make_account(device=device))
    sweep()
    assert Pass.objects.get(number=1).finished_at is None  # a job still waits
    lifecycle.cancel_job(job, timezone.now())
    with caplog.at_level("WARNING", logger="posting.notifications"):
        sweep()
        sweep()
    assert Pass.objects.get(number=1).finished_at is not None
    announced = [m for m in caplog.messages if m.startswith("pass_finished: Pass 1 finished")]
    assert announced == ["pass_finished: Pass 1 finished: cancelled 1"]


def test_an_attempt_row_that_cannot_be_loaded_does_not_stop_the_others(clock):
    from django.db import connection

    damaged = make_job(account=make_account(device=make_device()))
    claim(damaged, damaged.account.device)
    good = make_job(account=make_account(device=make_device()))
    claim(good, good.account.device)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE posting_attempt SET lease_token = 'deadbeef' WHERE job_id = %s", [damaged.pk]
        )
    clock.shift(timedelta(minutes=2))
    assert sweep().recovered == 1
    assert refreshed(good).status == JobStatus.PENDING
