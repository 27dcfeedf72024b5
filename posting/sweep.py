"""The periodic sweep: recover attempts whose lease expired and wake idle devices with work.

Idempotent: every recovery is a fenced write, every wake-up a conditional one, so several
sweeps at once (two clusters, the schedule and a cluster's own loop) do no harm.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from devices.models import Device
from posting.claiming import next_due_at
from posting.models import Attempt
from posting.outcomes import settle_lost_attempt
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
    return SweepReport(recover_lost_attempts(host, now), wake_idle_devices(host, now))


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
