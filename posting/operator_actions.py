"""What operators do from the admin, with the wake-ups that go with it."""

from datetime import datetime

from posting.models import Job, Pass
from posting.requeue import requeue_failures
from posting.wakeups import wake_devices, wake_devices_of_jobs

__all__ = ["requeue_failures", "retry_now", "review_not_posted"]


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
