"""The periodic sweep: recover attempts whose lease expired and wake idle devices with work.

Idempotent: every recovery is a fenced write, every wake-up a conditional one, so several
sweeps at once (two clusters, the schedule and a cluster's own loop) do no harm.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from devices.models import Device, DeviceHealth, probe_device
from posting.claiming import next_due_at
from posting.models import Attempt
from posting.outcomes import finish_passes, settle_lost_attempt
from posting.wakeups import wake_device

logger = logging.getLogger("posting.sweep")


@dataclass(frozen=True)
class SweepReport:
    recovered: int
    woken: int

    def __str__(self) -> str:
        return f"recovered {self.recovered} lost attempts, woke {self.woken} devices"


def sweep(host: str | None = None, *, now: datetime | None = None) -> SweepReport:
    """Sweep one host's devices (all hosts when None)."""
    now = now or timezone.now()
    recovered = recover_lost_attempts(host, now)
    probe_quarantined_devices(host, now)
    finish_passes(now)
    return SweepReport(recovered, wake_idle_devices(host, now))


def probe_quarantined_devices(host: str | None, now: datetime) -> int:
    """Probe quarantined devices now and then; a passing probe ends the quarantine early."""
    quiet = now - timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS)
    devices = Device.objects.filter(
        health=DeviceHealth.QUARANTINED, quarantined_until__gt=now, enabled=True
    ).filter(Q(last_probed_at__isnull=True) | Q(last_probed_at__lt=quiet))
    if host is not None:
        devices = devices.filter(host=host)
    released = 0
    for device in devices:
        if probe_device(device, now):
            released += 1
            logger.info("Device %s passed its probe: quarantine lifted", device.name)
    return released


def recover_lost_attempts(host: str | None, now: datetime) -> int:
    expired = Attempt.objects.lease_expired(now).select_related("job__account", "device")
    if host is not None:
        expired = expired.filter(device__host=host)
    recovered = 0
    for attempt in expired:
        status = settle_lost_attempt(attempt, now)
        if status is not None:
            recovered += 1
            logger.warning(
                "Recovered lost attempt %s of job %s on %s: job is now %s",
                attempt.number,
                attempt.job.job_id,
                attempt.device.name,
                status,
            )
    return recovered


def wake_idle_devices(host: str | None, now: datetime) -> int:
    devices = Device.objects.available(now).without_live_runner(now)
    if host is not None:
        devices = devices.filter(host=host)
    woken = 0
    for device in devices:
        due = next_due_at(device, now)
        if due is not None and due <= now:
            woken += wake_device(device, now=now)
    return woken
