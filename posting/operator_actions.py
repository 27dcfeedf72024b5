"""What operators do from the admin, with the wake-ups that go with it."""

from datetime import datetime

from devices.models import Device
from posting.models import Account, Job, Pass, PauseScope, PauseSwitch
from posting.requeue import requeue_failures
from posting.wakeups import wake_devices, wake_devices_of_jobs

__all__ = ["pause", "requeue_failures", "resume", "retry_now", "review_not_posted"]


def retry_now(jobs, *, now: datetime) -> int:
    """Make waiting retries due now and wake their devices."""
    ids = list(jobs.values_list("pk", flat=True))
    moved = Job.objects.filter(pk__in=ids).retry_now(now)
    wake_devices_of_jobs(Job.objects.filter(pk__in=ids))
    return moved


def review_not_posted(jobs, *, user, now: datetime) -> tuple[Pass | None, int]:
    """Needs_review jobs that were not posted go into a new pass; their devices wake."""
    devices = set(jobs.values_list("account__device_id", flat=True))
    new_pass, count = jobs.mark_not_posted(user=user, now=now)
    if new_pass is not None:
        wake_devices(devices)
    return new_pass, count


def pause(scope: str, name: str, *, now: datetime, user=None, reason: str = "") -> bool:
    """Pause a platform or a host: no new attempt starts there, running ones finish.
    False if it already was paused."""
    return PauseSwitch.pause(scope, name, now=now, user=user, reason=reason)


def resume(scope: str, name: str, *, now: datetime, user=None) -> bool:
    """Resume a platform or a host and wake the devices that may have work again.
    False if it was not paused."""
    resumed = PauseSwitch.resume(scope, name, now=now, user=user)
    if resumed:
        wake_devices(devices_of(scope, name))
    return resumed


def devices_of(scope: str, name: str) -> list[int]:
    """The devices a platform's or host's pause concerns."""
    if scope == PauseScope.HOST:
        return list(Device.objects.filter(host=name, enabled=True).values_list("pk", flat=True))
    accounts = Account.objects.filter(platform=name, device__isnull=False)
    return list(accounts.values_list("device_id", flat=True).distinct())
