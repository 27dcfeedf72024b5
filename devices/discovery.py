"""Find the phones plugged into this host with `adb devices -l` and keep the registry in step.

New phones (state `device`) are registered as Appium devices with a readable name, their
serial as `appium:udid` and free ports; known ones are updated; registered phones that adb
does not list, or lists as unauthorized or offline, are reported and marked offline. Running
it twice changes nothing the second time.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.models import Device, DeviceBackendName, DeviceHealth

ADB_TIMEOUT_SECONDS = 15


class AdbMissing(Exception):
    """adb is not installed (or not on PATH) on this host."""


@dataclass(frozen=True)
class AdbPhone:
    serial: str
    state: str  # device, unauthorized, offline, recovery, ...
    model: str = ""


@dataclass(frozen=True)
class DiscoveryRow:
    name: str
    serial: str
    model: str
    state: str
    action: str  # registered, updated, unchanged, missing, unauthorized, offline, ignored


def adb_devices(adb: str | None = None) -> list[AdbPhone]:
    """The phones adb sees, from `adb devices -l`. Raises AdbMissing without adb."""
    adb = adb or shutil.which("adb")
    if adb is None:
        raise AdbMissing("adb is not installed or not on PATH (Debian: apt-get install adb)")
    try:
        done = subprocess.run(
            [adb, "devices", "-l"],
            capture_output=True,
            text=True,
            timeout=ADB_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise AdbMissing(f"adb devices -l failed: {exc}") from None
    return parse_adb_devices(done.stdout)


def parse_adb_devices(output: str) -> list[AdbPhone]:
    """Parse `adb devices -l`: `<serial> <state> [usb:..] [product:..] [model:..] ...`."""
    phones = []
    for line in output.splitlines():
        line = line.strip()
        if not line or line.startswith(("List of devices", "*")):
            continue  # the header and the daemon's "* daemon started" chatter
        serial, _, rest = line.partition(" ")
        fields = rest.split()
        if not fields:
            continue
        details = dict(field.split(":", 1) for field in fields[1:] if ":" in field)
        phones.append(AdbPhone(serial, fields[0], details.get("model", "").replace("_", " ")))
    return phones


def readable_name(phone: AdbPhone, taken: set[str]) -> str:
    """`<model>-<last 4 of the serial>`, lower case, unique among `taken`."""
    model = re.sub(r"[^a-z0-9]+", "-", phone.model.lower()).strip("-") or "phone"
    base = f"{model}-{re.sub(r'[^a-z0-9]', '', phone.serial.lower())[-4:]}"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def sync_devices(
    phones: list[AdbPhone],
    *,
    host: str,
    appium_url: str | None,
    now: datetime,
    dry_run: bool = False,
) -> list[DiscoveryRow]:
    """Register new phones, update known ones, report the missing; one row per phone.

    New phones get `appium_url` (APPIUM_DEFAULT_URL when None); known ones keep theirs
    unless `appium_url` is given.
    """
    with transaction.atomic():
        known = {
            device.capabilities.get("appium:udid"): device
            for device in Device.objects.filter(host=host, backend=DeviceBackendName.APPIUM)
            if device.capabilities.get("appium:udid")
        }
        taken = set(Device.objects.values_list("name", flat=True))
        rows = [
            _sync_one(phone, known.get(phone.serial), host, appium_url, now, taken, dry_run)
            for phone in phones
        ]
        seen = {phone.serial for phone in phones}
        for serial, device in sorted(known.items()):
            if serial not in seen:
                if not dry_run:
                    device.record_offline("not connected to this host (adb does not list it)")
                rows.append(DiscoveryRow(device.name, serial, "", "absent", "missing"))
        if dry_run:
            transaction.set_rollback(True)
    return rows


def _sync_one(phone, device, host, appium_url, now, taken, dry_run) -> DiscoveryRow:
    if device is None:
        if phone.state != "device":  # unauthorized or offline: nothing to drive yet
            return DiscoveryRow("", phone.serial, phone.model, phone.state, "ignored")
        name = readable_name(phone, taken)
        taken.add(name)
        if not dry_run:
            Device(
                name=name,
                host=host,
                backend=DeviceBackendName.APPIUM,
                appium_url=appium_url or settings.APPIUM_DEFAULT_URL,
                capabilities={"appium:udid": phone.serial},
                last_seen_at=now,
            ).save()
        return DiscoveryRow(name, phone.serial, phone.model, phone.state, "registered")
    if phone.state != "device":
        if not dry_run:
            device.record_offline(f"adb reports {phone.state}")
        action = "unauthorized" if phone.state == "unauthorized" else "offline"
        return DiscoveryRow(device.name, phone.serial, phone.model, phone.state, action)
    new_url = appium_url is not None and device.appium_url != appium_url
    changed = new_url or device.health == DeviceHealth.OFFLINE
    if not dry_run:
        if new_url:
            device.appium_url = appium_url
            device.save(update_fields=["appium_url"])
        device.record_connected(now)
    action = "updated" if changed else "unchanged"
    return DiscoveryRow(device.name, phone.serial, phone.model, phone.state, action)


def format_table(rows: list[DiscoveryRow]) -> str:
    """The rows as a plain text table."""
    header = ("device", "serial", "model", "adb state", "action")
    lines = [header] + [(r.name or "-", r.serial, r.model or "-", r.state, r.action) for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def discover_here(host: str, appium_url: str | None = None) -> str:
    """Discovery as the cluster of `host` runs it (the admin's task): the table."""
    rows = sync_devices(adb_devices(), host=host, appium_url=appium_url, now=timezone.now())
    return format_table(rows)
