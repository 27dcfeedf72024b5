"""The periodic sweep: recover attempts whose lease expired and wake idle devices with work.

Idempotent: every recovery is a fenced write, every wake-up a conditional one, so several
sweeps at once (two clusters, the schedule and a cluster's own loop) do no harm. One bad row
never stops a sweep: each step and each row handles and logs its own failure and the sweep
goes on. Probing a quarantined phone can take seconds, so the sweep only asks for probes; they
run as tasks on the device's host cluster, bounded by the backend's own timeouts.
"""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.db import close_old_connections
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from devices.models import Device, DeviceHealth
from posting.claiming import next_due_at
from posting.models import Attempt, without_live_runner
from posting.outcomes import finish_passes, settle_lost_attempt
from posting.wakeups import wake_device

logger = logging.getLogger("posting.sweep")
Row = TypeVar("Row")


@dataclass(frozen=True)
class SweepReport:
    recovered: int
    woken: int
    probes: int = 0
    failures: int = 0

    def __str__(self) -> str:
        text = (
            f"recovered {self.recovered} lost attempts, woke {self.woken} devices, "
            f"asked for {self.probes} probes"
        )
        return text + (f", {self.failures} rows failed (logged)" if self.failures else "")


def sweep(host: str | None = None, *, now: datetime | None = None) -> SweepReport:
    """Sweep one host's devices (all hosts when None)."""
    now = now or timezone.now()
    failures: list[str] = []
    recovered = _step(failures, "recover lost attempts", lambda: recover_lost_attempts(host, now))
    probes = _step(failures, "probe quarantined devices", lambda: request_probes(host, now))
    _step(failures, "finish passes", lambda: len(finish_passes(now)))
    woken = _step(failures, "wake idle devices", lambda: wake_idle_devices(host, now))
    return SweepReport(recovered, woken, probes, len(failures))


def _step(failures: list[str], what: str, run: Callable[[], int]) -> int:
    try:
        return run()
    except Exception:
        logger.exception("Sweep: %s failed", what)
        close_old_connections()
        failures.append(what)
        return 0


def each_row(rows: Iterable[Row], what: str, action: Callable[[Row], int]) -> int:
    """Apply `action` to every row; a row that fails is logged and skipped. Sums the results."""
    done = 0
    for row in rows:
        try:
            done += action(row)
        except Exception:
            logger.exception("Sweep: %s failed for %s", what, row)
            close_old_connections()
    return done


def request_probes(host: str | None, now: datetime) -> int:
    """Ask for a probe of quarantined devices now and then, as tasks on their host's cluster.

    A passing probe ends the quarantine early. The request is a conditional write, so several
    sweeps ask once; nothing slow runs here (this is called from the cluster's heartbeat loop).
    """
    quiet = now - timedelta(seconds=settings.QUARANTINE_PROBE_SECONDS)
    due = Q(last_probed_at__isnull=True) | Q(last_probed_at__lt=quiet)
    devices = Device.objects.filter(
        health=DeviceHealth.QUARANTINED, quarantined_until__gt=now, enabled=True
    ).filter(due)
    if host is not None:
        devices = devices.filter(host=host)

    def ask(device: Device) -> int:
        # The sweep runs in autocommit: the request is committed before the task is sent.
        if not Device.objects.filter(pk=device.pk).filter(due).update(last_probed_at=now):
            return 0
        async_task("posting.tasks.probe_device_task", device.pk, cluster=device.host or None)
        return 1

    return each_row(devices.only("pk", "name", "host"), "asking for a probe", ask)


def recover_lost_attempts(host: str | None, now: datetime) -> int:
    expired = Attempt.objects.lease_expired(now)
    if host is not None:
        expired = expired.filter(device__host=host)

    def recover(pk: int) -> int:
        # Each row is read on its own: one that cannot even be loaded (a damaged lease token)
        # must not stop the recovery of the others.
        attempt = Attempt.objects.select_related("job__account", "device").get(pk=pk)
        status = settle_lost_attempt(attempt, now)
        if status is None:
            return 0
        logger.warning(
            "Recovered lost attempt %s of job %s on %s: job is now %s",
            attempt.number,
            attempt.job.job_id,
            attempt.device.name,
            status,
        )
        return 1

    pks = list(expired.values_list("pk", flat=True))
    return each_row(pks, "recovering lost attempt", recover)


def wake_idle_devices(host: str | None, now: datetime) -> int:
    devices = without_live_runner(Device.objects.available(now), now)
    if host is not None:
        devices = devices.filter(host=host)

    def wake_if_due(device: Device) -> int:
        due = next_due_at(device, now)
        if due is not None and due <= now:
            return wake_device(device, now=now)
        return 0

    return each_row(devices, "waking a device", wake_if_due)
