"""Run checks that concern a device's machine on that machine: as tasks on its host's cluster.

Whoever runs the command (often the web machine) cannot see a phone's USB or a host's disk.
A host whose cluster is not alive is checked from here instead, and the result says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from django.conf import settings
from django.utils import timezone
from django_q.tasks import async_task, result

from devices.models import Device
from devices.probe import probe_device
from posting.models import ClusterHeartbeat

FILES_PER_TASK = 5000


def probe_devices(devices: Iterable[Device]) -> list[tuple[Device, bool, str]]:
    """(device, healthy, where it was probed) for each device."""
    live = ClusterHeartbeat.live_names(timezone.now())
    sent, outcomes = [], []
    for device in devices:
        if device.host in live:
            task = async_task("posting.tasks.probe_device_task", device.pk, cluster=device.host)
            sent.append((device, task))
        else:
            ok = probe_device(device, timezone.now())
            outcomes.append((device, ok, "here (its host's cluster is not running)"))
    wait_ms = int(settings.HOST_TASK_WAIT_SECONDS * 1000)
    for device, task in sent:
        answer = result(task, wait=wait_ms)
        device.refresh_from_db()
        if answer is None:
            outcomes.append((device, False, f"host {device.host}: no answer in time"))
        else:
            outcomes.append((device, device.health != "offline", f"host {device.host}"))
    return outcomes


def missing_files(paths_by_host: dict[str | None, list[str]]) -> dict[str | None, set[str]]:
    """Which of the paths do not exist, looked up on each host (None: here)."""
    live = ClusterHeartbeat.live_names(timezone.now())
    missing: dict[str | None, set[str]] = {}
    wait_ms = int(settings.HOST_TASK_WAIT_SECONDS * 1000)
    for host, paths in paths_by_host.items():
        found: set[str] = set()
        for start in range(0, len(paths), FILES_PER_TASK):
            chunk = paths[start : start + FILES_PER_TASK]
            if host is not None and host in live:
                task = async_task("posting.tasks.missing_files_task", chunk, cluster=host)
                answer = result(task, wait=wait_ms)
                if answer is None:
                    raise TimeoutError(f"host {host} did not answer the file check in time")
                found.update(answer)
            else:
                found.update(missing_here(chunk))
        missing[host] = found
    return missing


def missing_here(paths: list[str]) -> list[str]:
    return [path for path in paths if not os.path.isfile(path)]
