"""The device task's bookkeeping: which runner drives a device, and whether a wake-up is on its
way. Execution state, so it lives with the jobs (posting), not with the device (devices/)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q


def without_live_runner(devices: models.QuerySet, now: datetime) -> models.QuerySet:
    """The devices of `devices` that no device task holds now."""
    return devices.exclude(queue__runner_expires_at__gt=now)


class DeviceQueue(models.Model):
    device = models.OneToOneField(
        "devices.Device", primary_key=True, on_delete=models.CASCADE, related_name="queue"
    )
    # The device lease: at most one device task drives the device at a time.
    runner_token = models.UUIDField(null=True, blank=True)
    runner_expires_at = models.DateTimeField(null=True, blank=True)
    # When a device task was last enqueued and not yet started: keeps wake-ups from piling
    # tasks onto the broker while one is already waiting for a worker.
    woken_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # the sweep: devices without a live runner
            models.Index(fields=["runner_expires_at"], name="posting_devicequeue_runner"),
        ]

    def __str__(self) -> str:
        return f"queue of device {self.device_id}"

    @classmethod
    def _of(cls, device_pk: int) -> models.QuerySet:
        # The row appears with the first wake-up or run; two at once: the conflict is ignored.
        cls.objects.bulk_create([cls(device_id=device_pk)], ignore_conflicts=True)
        return cls.objects.filter(pk=device_pk)

    @classmethod
    def acquire_runner_lease(cls, device_pk: int, now: datetime, seconds: float):
        """Take the device lease if nobody holds a live one; the row count decides."""
        token = uuid.uuid4()
        won = (
            cls._of(device_pk)
            .exclude(runner_expires_at__gt=now)
            .update(
                runner_token=token,
                runner_expires_at=now + timedelta(seconds=seconds),
                woken_at=None,
            )
        )
        return token if won == 1 else None

    @classmethod
    def claim_wake(cls, device_pk: int, now: datetime, debounce_seconds: float) -> bool:
        """Record a wake-up unless a task runs or is already on its way; True: send one."""
        recent = Q(woken_at__gte=now - timedelta(seconds=debounce_seconds))
        return (
            cls._of(device_pk)
            .exclude(runner_expires_at__gt=now)
            .exclude(recent)
            .update(woken_at=now)
            == 1
        )

    @classmethod
    def extend_runner_lease(cls, device_pk: int, token, now: datetime, seconds: float) -> bool:
        expires = now + timedelta(seconds=seconds)
        return (
            cls.objects.filter(pk=device_pk, runner_token=token).update(runner_expires_at=expires)
            == 1
        )

    @classmethod
    def release_runner_lease(cls, device_pk: int, token) -> bool:
        return (
            cls.objects.filter(pk=device_pk, runner_token=token).update(
                runner_token=None, runner_expires_at=None
            )
            == 1
        )
