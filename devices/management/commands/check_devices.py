from django.core.management.base import BaseCommand
from django.utils import timezone

from devices.models import Device, probe_device


class Command(BaseCommand):
    help = "Probe devices through their backends (Appium /status, phone presence); update health."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Device names (default: every enabled one).")
        parser.add_argument("--host", help="Only the devices of this host.")

    def handle(self, *args, names: list[str], host: str | None, **options):
        devices = (
            Device.objects.filter(name__in=names) if names else Device.objects.filter(enabled=True)
        )
        if host:
            devices = devices.filter(host=host)
        rows = [("device", "host", "backend", "health", "detail")]
        healthy = 0
        for device in devices.order_by("name"):
            ok = probe_device(device, timezone.now())
            healthy += ok
            rows.append(
                (
                    device.name,
                    device.host,
                    device.backend,
                    device.health,
                    device.health_detail or "ok",
                )
            )
        widths = [max(len(str(r[i])) for r in rows) for i in range(4)]
        for row in rows:
            cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[4]]))
        summary = f"{healthy} of {len(rows) - 1} devices healthy"
        style = self.style.SUCCESS if healthy == len(rows) - 1 else self.style.WARNING
        self.stdout.write(style(summary))
