"""Pausing a platform or a host, and resuming it with the wake-up that goes with it."""

from datetime import datetime

from devices.models import Device
from posting.models import Account, PauseScope, PauseSwitch
from posting.wakeups import wake_devices


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
