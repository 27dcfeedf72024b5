"""Why a pending job is not running, derived from the rows (never stored twice).

The job list annotates what it needs (the pauses as EXISTS subqueries, the account and its
device by join), so a page of jobs costs no query per row. Each reason is a `WaitReason`:
its label is the badge, `wait_state()` gives the sentence, and `jobs_waiting_because()` is the
same reason as a filter of the job list.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from django.db.models import F, OuterRef, Q, QuerySet, TextChoices
from django.utils import timezone

from devices.models import DeviceHealth
from posting.claiming import fleet_paused, host_paused, platform_paused
from posting.models import AccountStatus, Job, JobStatus


class WaitReason(TextChoices):
    """Why a pending job waits, first match wins (the claim's order of checks)."""

    FLEET_PAUSED = "fleet_paused", "Fleet paused"
    PLATFORM_PAUSED = "platform_paused", "Platform paused"
    NO_DEVICE = "no_device", "No device"
    HOST_PAUSED = "host_paused", "Host paused"
    RATE_LIMITED = "rate_limited", "Rate-limited"
    ACCOUNT_HELD = "account_held", "Account held"
    DEVICE_DISABLED = "device_disabled", "Device disabled"
    DEVICE_DRAINING = "device_draining", "Device draining"
    DEVICE_QUARANTINED = "device_quarantined", "Device quarantined"
    RETRY = "retry", "Retry waiting"
    SCHEDULED = "scheduled", "Scheduled"
    PACING = "pacing", "Pacing"


# The badge colour of each reason (the status badge of a waiting job shows the reason).
WAIT_COLOURS = {
    WaitReason.FLEET_PAUSED: "#6f42c1",
    WaitReason.PLATFORM_PAUSED: "#6f42c1",
    WaitReason.HOST_PAUSED: "#6f42c1",
    WaitReason.NO_DEVICE: "#8a5a44",
    WaitReason.RATE_LIMITED: "#b02a37",
    WaitReason.ACCOUNT_HELD: "#b02a37",
    WaitReason.DEVICE_DISABLED: "#8a5a44",
    WaitReason.DEVICE_DRAINING: "#8a5a44",
    WaitReason.DEVICE_QUARANTINED: "#8a5a44",
    WaitReason.RETRY: "#a16207",
    WaitReason.SCHEDULED: "#0e7490",
    WaitReason.PACING: "#0e7490",
}


class WaitState(NamedTuple):
    reason: WaitReason
    text: str


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


def wait_state(job: Job, now: datetime | None = None) -> WaitState | None:
    """None for a job that is not pending or is due now; otherwise the first reason it waits.

    `job` comes from `with_wait_state` (the pause annotations and the account's device).
    """
    if job.status != JobStatus.PENDING:
        return None
    now = now or timezone.now()
    account, device = job.account, job.account.device
    if getattr(job, "fleet_is_paused", False):
        return WaitState(WaitReason.FLEET_PAUSED, "fleet paused")
    if getattr(job, "platform_is_paused", False):
        return WaitState(WaitReason.PLATFORM_PAUSED, f"platform {account.platform} paused")
    if device is None:
        return WaitState(WaitReason.NO_DEVICE, "no device bound to the account")
    if getattr(job, "host_is_paused", False):
        return WaitState(WaitReason.HOST_PAUSED, f"host {device.host} paused")
    if account.status == AccountStatus.RATE_LIMITED and account.held_until:
        if account.held_until > now:
            return WaitState(
                WaitReason.RATE_LIMITED,
                f"account {account.handle} rate-limited until {_hhmm(account.held_until)}",
            )
    elif account.status != AccountStatus.ACTIVE:
        label = AccountStatus(account.status).label.lower()
        since = f" since {_hhmm(account.held_at)}" if account.held_at else ""
        return WaitState(WaitReason.ACCOUNT_HELD, f"account {account.handle} held ({label}){since}")
    if not device.enabled:
        return WaitState(WaitReason.DEVICE_DISABLED, f"device {device.name} disabled")
    if device.draining:
        return WaitState(WaitReason.DEVICE_DRAINING, f"device {device.name} draining")
    if device.health == DeviceHealth.QUARANTINED and (device.quarantined_until or now) > now:
        return WaitState(
            WaitReason.DEVICE_QUARANTINED,
            f"device {device.name} quarantined until {_hhmm(device.quarantined_until)}",
        )
    if job.retry_at and job.retry_at > now:
        return WaitState(
            WaitReason.RETRY,
            f"retry at {_hhmm(job.retry_at)} (attempt {job.attempts + 1} of {job.max_attempts})",
        )
    if job.scheduled_at and job.scheduled_at > now:
        return WaitState(WaitReason.SCHEDULED, f"scheduled for {_hhmm(job.scheduled_at)}")
    allowed = account.next_post_allowed_at(now)
    if allowed > now:
        return WaitState(WaitReason.PACING, f"pacing until {_hhmm(allowed)}")
    return None


def waiting_because(job: Job, now: datetime | None = None) -> str:
    """'' for a job that is not pending or is due now; otherwise why it waits, in words."""
    state = wait_state(job, now)
    return state.text if state else ""


def jobs_waiting_because(jobs: QuerySet, reason: str, now: datetime) -> QuerySet:
    """The pending jobs among `jobs` that wait for `reason` (with or without other reasons).

    Every condition is on the job's pending partial indexes (retry_at, scheduled_at), the
    (status, pass_number) index, or a join to the account (indexed status, device) and its
    device; the pauses are EXISTS on the switches' unique (scope, name).
    """
    pending = jobs.filter(status=JobStatus.PENDING)
    device_quarantined = Q(
        account__device__health=DeviceHealth.QUARANTINED,
        account__device__quarantined_until__gt=now,
    )
    conditions = {
        WaitReason.FLEET_PAUSED: Q(fleet_paused()),
        WaitReason.PLATFORM_PAUSED: Q(platform_paused(OuterRef("account__platform"))),
        WaitReason.NO_DEVICE: Q(account__device__isnull=True),
        WaitReason.HOST_PAUSED: Q(host_paused(OuterRef("account__device__host"))),
        WaitReason.RATE_LIMITED: Q(
            account__status=AccountStatus.RATE_LIMITED, account__held_until__gt=now
        ),
        WaitReason.ACCOUNT_HELD: ~Q(
            account__status__in=[AccountStatus.ACTIVE, AccountStatus.RATE_LIMITED]
        ),
        WaitReason.DEVICE_DISABLED: Q(account__device__enabled=False),
        WaitReason.DEVICE_DRAINING: Q(account__device__draining=True),
        WaitReason.DEVICE_QUARANTINED: device_quarantined,
        WaitReason.RETRY: Q(retry_at__gt=now),
        WaitReason.SCHEDULED: Q(scheduled_at__gt=now),
        # The minimum interval and the daily cap; a posting window closed is not listed here
        # (it depends on each account's local time), though the job page says so.
        WaitReason.PACING: Q(
            account__last_posted_at__gt=now - F("account__min_post_interval"),
            account__min_post_interval__gt=timedelta(0),
        )
        | Q(
            account__daily_cap__isnull=False,
            # the account's local date: today or yesterday in UTC, whatever its time zone
            account__posts_day__gte=(now - timedelta(days=1)).date(),
            account__posts_on_day__gte=F("account__daily_cap"),
        )
        | Q(account__daily_cap=0),
    }
    return pending.filter(conditions[WaitReason(reason)])


def _hhmm(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return timezone.localtime(moment).strftime("%H:%M")
