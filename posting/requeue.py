"""Requeueing as a new pass: the one place that moves jobs and wakes their devices."""

from datetime import datetime

from posting.models import Pass
from posting.wakeups import wake_devices


def requeue_failures(
    jobs, *, now: datetime, started_by=None, filter_description: dict | None = None
) -> tuple[Pass | None, dict[str, int]]:
    """Move the failed jobs among `jobs` into a new pass, then wake their devices."""
    # order_by(): the job's default ordering would put its id into the DISTINCT (one row per
    # job instead of per device: 50,000 rows read into Python to build a set of one).
    devices = set(
        jobs.requeueable().order_by().values_list("account__device_id", flat=True).distinct()
    )
    new_pass, counts = jobs.requeue_as_new_pass(
        now=now, started_by=started_by, filter_description=filter_description
    )
    if new_pass is not None:
        wake_devices(devices)
    return new_pass, counts
