"""Operator releases: an account hold or a device quarantine ends and the device is woken."""

from django.utils import timezone

from devices.models import Device
from posting.models import Account
from posting.wakeups import wake_devices


def release_account(account: Account) -> bool:
    """Reactivate a held account; the release wakes its device. False if it was not held."""
    return account.release()


def release_device(device: Device) -> bool:
    """End a device's quarantine early and wake it. False if it was not quarantined."""
    released = device.release_quarantine(timezone.now())
    if released:
        wake_devices([device.pk])
    return released
