from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.models import Device
from devices.probe import probe_device
from posting.host_tasks import probe_devices


class Command(BaseCommand):
    help = (
        "Probe devices (Appium /status, phone presence) on their own hosts' clusters, print a "
        "table and update their health. --here probes from this machine instead."
    )

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Device names (default: every enabled one).")
        parser.add_argument("--host", help="Only the devices of this host.")
        parser.add_argument("--here", action="store_true", help="Probe from this machine.")

    def handle(self, *args, names: list[str], host: str | None, here: bool, **options):
        devices = (
            Device.objects.filter(name__in=names) if names else Device.objects.filter(enabled=True)
        )
        unknown = sorted(set(names) - set(devices.values_list("name", flat=True)))
        if unknown:
            raise CommandError(f"no device named {', '.join(map(repr, unknown))}")
        if host:
            devices = devices.filter(host=host)
        devices = list(devices.order_by("name"))
        if here:
            outcomes = [(d, probe_device(d, timezone.now()), "here") for d in devices]
        else:
            outcomes = probe_devices(devices)
        rows = [("device", "host", "backend", "health", "probed", "detail")]
        for device, _, where in sorted(outcomes, key=lambda o: o[0].name):
            rows.append(
                (
                    device.name,
                    device.host,
                    device.backend,
                    device.health,
                    where,
                    device.health_detail or "ok",
                )
            )
        widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
        for row in rows:
            cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[5]]))
        healthy = sum(1 for _, ok, _ in outcomes if ok)
        summary = f"{healthy} of {len(outcomes)} devices healthy"
        if not outcomes:
            raise CommandError("no devices to check" + (f" on host {host!r}" if host else ""))
        if healthy < len(outcomes):
            # A non-zero exit, so monitoring and scripts notice a sick phone.
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary))
