"""Start device tasks: after commit, to the device's host cluster, at most one waiting."""

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from devices.models import Device
from posting.models.device_queue import DeviceQueue

logger = logging.getLogger("posting.wakeups")

DEVICE_TASK = "posting.tasks.run_device_queue"


def wake_devices(device_ids: Iterable[int | None]) -> None:
    """Once the current transaction commits, start the task of each idle device."""
    ids = {pk for pk in device_ids if pk is not None}
    if ids:
        transaction.on_commit(lambda: _wake_now(ids))


def wake_devices_of_jobs(jobs) -> None:
    """Wake the devices whose accounts own these jobs (a queryset)."""
    wake_devices(jobs.values_list("account__device_id", flat=True).distinct())


def _wake_now(ids: set[int]) -> int:
    now = timezone.now()
    woken = 0
    for device in Device.objects.filter(pk__in=ids).available(now).only("pk", "name", "host"):
        woken += wake_device(device, now=now)
    return woken


def wake_device(device: Device, *, now=None) -> bool:
    """Enqueue the device's task unless it runs or one is already waiting for a worker."""
    now = now or timezone.now()
    if not DeviceQueue.claim_wake(device.pk, now, settings.WAKE_DEBOUNCE_SECONDS):
        return False
    async_task(DEVICE_TASK, device.pk, cluster=device.host, group=f"device-{device.pk}")
    logger.debug("Woke device %s on cluster %s", device.name, device.host)
    return True
