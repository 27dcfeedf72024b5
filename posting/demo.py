"""Demo data: simulated devices and a jobs CSV with scripted failures of every category."""

import csv
from pathlib import Path

from devices.models import Device
from posting.models import Platform

# (outcomes by attempt, caption) for the first jobs of each device; the rest succeed.
SHOWCASE = [
    (["adb_timeout", "success"], "retried after an adb timeout"),
    (["connection_dropped", "connection_dropped", "connection_dropped"], "fails: connection"),
    (["verification_race", "success"], "wrong account shown once"),
    (["claude_stuck", "success"], "automation got stuck once"),
    (["suspended"], "account suspended: held"),
    (["captcha"], "captcha: account held"),
    (["loggedout"], "logged out: account held"),
    (["rate_limited"], "rate limited: cooldown"),
    (["media_missing"], "video missing: edit the job"),
    (["caption_rejected"], "caption rejected: edit the job"),
    (["unknown"], "an unrecognised dialog"),
    (["hang", "success"], "hangs until the job timeout"),
    (["fail_after_checkpoint"], "fails after the tap: verified, retried"),
    (["fail_unverifiable"], "fails after the tap, cannot tell: needs review"),
]


def create_demo_devices(count: int) -> list[Device]:
    """Simulated devices demo-1..N (existing ones are kept as they are)."""
    devices = []
    for n in range(1, count + 1):
        device, _ = Device.objects.get_or_create(
            name=f"demo-{n}",
            defaults={"capabilities": {"latency_ms": [1500, 4000], "seed": n, "script": {}}},
        )
        devices.append(device)
    return devices


def write_demo_csv(path: Path, devices: list[Device], jobs_per_device: int) -> int:
    """Write the jobs CSV and put each showcased job's script on its device."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            ["job_id", "account", "video_path", "caption", "device", "priority", "platform"]
        )
        # Every showcased outcome once, dealt round the devices and run first: within the
        # first minutes the console shows each category, evidence and a review.
        per_device = -(-len(SHOWCASE) // max(1, len(devices)))
        for d_index, device in enumerate(devices):
            script = {}
            for n in range(jobs_per_device):
                job_id = f"demo-{d_index + 1}-{n:03d}"
                index = n * len(devices) + d_index
                showcased = SHOWCASE[index] if n < per_device and index < len(SHOWCASE) else None
                account = f"@demo{d_index + 1}-" + (f"shown{n}" if showcased else "main")
                caption = showcased[1] if showcased else f"video {n} from {device.name} 🎬"
                # Showcased accounts spread over the platforms, so the demo's few account holds
                # never reach the circuit breaker's threshold on one platform.
                platform = Platform.values[index % 3] if showcased else Platform.TIKTOK
                if showcased:
                    script[job_id] = showcased[0]
                writer.writerow(
                    [job_id, account, f"demo/{n}.mp4", caption, device.name, 0, platform]
                )
                rows += 1
            device.capabilities = {**device.capabilities, "script": script}
            device.save(update_fields=["capabilities"])
    return rows
