"""Wake-ups: after commit, to the device's host cluster, at most one waiting per device."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from posting.csv_import import import_jobs
from posting.lifecycle import requeue_as_new_pass
from posting.models import AccountStatus, DeviceQueue, JobStatus
from posting.wakeups import wake_device, wake_devices
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def queued() -> list[tuple[str, tuple]]:
    """(cluster, args) of every task waiting on the ORM broker."""
    return [(row.key, row.task["args"]) for row in OrmQ.objects.order_by("id")]


def test_a_wake_up_waits_for_the_commit(django_capture_on_commit_callbacks):
    device = make_device(host="rack-a")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        wake_devices([device.pk])
    assert queued() == []
    for callback in callbacks:
        callback()
    assert queued() == [("rack-a", (device.pk,))]


def test_a_device_with_a_waiting_task_is_not_woken_again(clock):
    device = make_device()
    assert wake_device(device)
    assert not wake_device(device)
    assert len(queued()) == 1
    clock.shift(timedelta(seconds=61))  # the waiting task was lost: wake again
    assert wake_device(device)


def test_a_device_whose_runner_is_live_is_not_woken():
    device = make_device()
    DeviceQueue.acquire_runner_lease(device.pk, timezone.now(), 30)
    assert not wake_device(device)


def test_import_wakes_the_devices_of_the_imported_jobs(
    tmp_path, django_capture_on_commit_callbacks
):
    device = make_device("phone-1")
    make_device("phone-2")
    path = tmp_path / "jobs.csv"
    path.write_text("job_id,account,video_path,caption,device\nJ1,@a,a.mp4,x,phone-1\n")
    with django_capture_on_commit_callbacks(execute=True):
        import_jobs(path)
    assert queued() == [("local", (device.pk,))]


def test_requeue_wakes_the_devices_of_the_moved_jobs(django_capture_on_commit_callbacks):
    device = make_device()
    make_job(
        account=make_account(device=device),
        status=JobStatus.FAILED,
        error_category="infrastructure",
        error_type="adb_timeout",
    )
    from posting.models import Job

    with django_capture_on_commit_callbacks(execute=True):
        requeue_as_new_pass(Job.objects.all(), now=timezone.now())
    assert queued() == [("local", (device.pk,))]


def test_releasing_an_account_wakes_its_device(django_capture_on_commit_callbacks):
    from posting.holds import release_account

    device = make_device()
    account = make_account(device=device)
    account.hold(AccountStatus.CAPTCHA, "captcha", timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert release_account(account)
    assert queued() == [("local", (device.pk,))]


def test_releasing_a_device_from_quarantine_wakes_it(django_capture_on_commit_callbacks):
    from posting.holds import release_device

    device = make_device()
    device.quarantine(timezone.now(), "sick")
    with django_capture_on_commit_callbacks(execute=True):
        assert release_device(device)
    assert queued() == [("local", (device.pk,))]


def test_releasing_an_account_directly_on_the_model_wakes_its_device_too(
    django_capture_on_commit_callbacks,
):
    device = make_device()
    account = make_account(device=device)
    account.hold(AccountStatus.CAPTCHA, "captcha", timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert account.release()
    assert queued() == [("local", (device.pk,))]
