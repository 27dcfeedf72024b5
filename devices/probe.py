"""Probe one device: is it ready to post? A pass ends a quarantine early.

Its own module: the probe drives a backend, and backends import the models.
"""

from datetime import datetime

from devices.backends import get_backend
from devices.models import Device, DeviceHealth


def probe_device(device: Device, now: datetime) -> bool:
    """Ask the backend whether the device is ready; a pass ends a quarantine early."""
    backend = get_backend(device)
    try:
        report = backend.probe()
    except Exception as exc:  # an unreachable device or server is a failed probe, not a crash
        report_ok, detail = False, f"{type(exc).__name__}: {exc}"
    else:
        report_ok, detail = report.ok, report.detail
    finally:
        backend.close()
    Device.objects.filter(pk=device.pk).update(last_probed_at=now)
    if report_ok:
        device.record_healthy(now)
        Device.objects.filter(pk=device.pk).update(health_detail=detail[:500])
    elif device.health != DeviceHealth.QUARANTINED:
        Device.objects.filter(pk=device.pk).update(
            health=DeviceHealth.OFFLINE, health_detail=detail[:500]
        )
    device.refresh_from_db()
    return report_ok
