"""django-q2 task entry points. They take primary keys and names, never model instances."""

from django_q.conf import Conf

from devices.models import Device
from posting.runner import DeviceRunner
from posting.sweep import sweep


def run_device_queue(device_pk: int) -> str:
    """Run the device's eligible jobs for one time budget (see posting.runner)."""
    device = Device.objects.filter(pk=device_pk).first()
    if device is None:
        return f"device {device_pk} no longer exists"
    return str(DeviceRunner(device, cluster=Conf.CLUSTER_NAME).run())


def sweep_host(host: str | None = None) -> str:
    """The scheduled sweep of one host's devices (all hosts when None)."""
    return str(sweep(host))


def probe_device_task(device_pk: int) -> str:
    """Probe one device from its own host (where adb sees the phone)."""
    from django.utils import timezone

    from devices.probe import probe_device

    device = Device.objects.filter(pk=device_pk).first()
    if device is None:
        return f"device {device_pk} no longer exists"
    ok = probe_device(device, timezone.now())
    return f"{device.name}: {'healthy' if ok else device.health_detail}"


def prune_history_task() -> str:
    """The daily retention run (see posting.retention)."""
    from django.conf import settings
    from django.utils import timezone

    from posting.retention import prune_history

    return str(prune_history(timezone.now(), settings.RETENTION_DAYS))


def missing_files_task(paths: list[str]) -> list[str]:
    """Which video files are missing on this host (import_jobs --check-files)."""
    from posting.host_tasks import missing_here

    return missing_here(paths)


def try_flow_task(trial_pk: int) -> str:
    """A flow trial from the admin, on the device's host (where the phone and video are)."""
    from devices.flow_trial import run_trial
    from devices.models import FlowTrial

    trial = FlowTrial.objects.select_related("device").filter(pk=trial_pk).first()
    if trial is None:
        return f"flow trial {trial_pk} no longer exists"
    run_trial(trial)
    return f"{trial}: {len(trial.steps)} steps"


def discover_devices_task(host: str) -> str:
    """Discovery on a device host (the admin's action): adb runs where the phones are."""
    from devices.discovery import discover_here

    return discover_here(host)
