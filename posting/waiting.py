"""Why a pending job is not running, derived from the rows (never stored twice).

The job list annotates what it needs (the pauses as EXISTS subqueries, the account and its
device by join), so a page of jobs costs no query per row.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, QuerySet
from django.utils import timezone

from devices.models import DeviceHealth
from posting.claiming import fleet_paused, host_paused, platform_paused
from posting.models import AccountStatus, Job, JobStatus


def with_wait_state(jobs: QuerySet) -> QuerySet:
    """Annotate the pauses a job's claim would meet: fleet, its platform, its device's host.

    Select the account's device too (`select_related("account__device")`; the admin does it
    through `list_select_related`, which it skips for a queryset that already selects).
    """
    return jobs.annotate(
        fleet_is_paused=fleet_paused(),
        platform_is_paused=platform_paused(OuterRef("account__platform")),
        host_is_paused=host_paused(OuterRef("account__device__host")),
    )


def waiting_because(job: Job, now: datetime | None = None) -> str:
    """'' for a job that is not pending or is due now; otherwise the first reason it waits.

    `job` comes from `with_wait_state` (the pause annotations and the account's device).
    """
    if job.status != JobStatus.PENDING:
        return ""
    now = now or timezone.now()
    account, device = job.account, job.account.device
    if getattr(job, "fleet_is_paused", False):
        return "fleet paused"
    if getattr(job, "platform_is_paused", False):
        return f"platform {account.platform} paused"
    if device is None:
        return "no device bound to the account"
    if getattr(job, "host_is_paused", False):
        return f"host {device.host} paused"
    if account.status == AccountStatus.RATE_LIMITED and account.held_until:
        if account.held_until > now:
            return f"account rate-limited until {_hhmm(account.held_until)}"
    elif account.status != AccountStatus.ACTIVE:
        return f"account held ({AccountStatus(account.status).label.lower()})"
    if not device.enabled:
        return f"device {device.name} disabled"
    if device.draining:
        return f"device {device.name} draining"
    if device.health == DeviceHealth.QUARANTINED and (device.quarantined_until or now) > now:
        return f"device {device.name} quarantined until {_hhmm(device.quarantined_until)}"
    if job.retry_at and job.retry_at > now:
        return f"retry at {_hhmm(job.retry_at)} (attempt {job.attempts + 1} of {job.max_attempts})"
    if job.scheduled_at and job.scheduled_at > now:
        return f"scheduled for {_hhmm(job.scheduled_at)}"
    allowed = account.next_post_allowed_at(now)
    if allowed > now:
        return f"pacing until {_hhmm(allowed)}"
    return ""


def _hhmm(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%H:%M")
