import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from devices.models import Device, DeviceBackendName, PortClash, PortsExhausted


class Command(BaseCommand):
    help = "Register a device (or change one with --update)."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--host", help="The cluster that drives it (default: this machine's).")
        parser.add_argument("--backend", choices=DeviceBackendName.values)
        parser.add_argument("--appium-url", dest="appium_url")
        parser.add_argument("--capabilities", help="A JSON object.")
        parser.add_argument("--disabled", action="store_true")
        parser.add_argument("--update", action="store_true", help="Change an existing device.")

    def handle(self, *args, name: str, update: bool, **options):
        device = Device.objects.filter(name=name).first()
        if device and not update:
            raise CommandError(f"device {name!r} exists; use --update to change it")
        if device is None:
            device = Device(name=name)
        for field in ("host", "backend", "appium_url"):
            if options[field] is not None:
                setattr(device, field, options[field])
        if options["capabilities"] is not None:
            try:
                device.capabilities = json.loads(options["capabilities"])
            except json.JSONDecodeError as exc:
                raise CommandError(f"--capabilities is not valid JSON: {exc}") from None
        if options["disabled"]:
            device.enabled = False
        try:
            device.full_clean()
        except ValidationError as exc:
            problems = "; ".join(f"{k}: {'; '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(f"device {name!r}: {problems}") from None
        try:
            device.save()
        except (PortClash, PortsExhausted) as exc:
            raise CommandError(str(exc)) from None
        verb = "updated" if update else "registered"
        ports = (
            f", systemPort {device.system_port}, mjpegServerPort {device.mjpeg_server_port}"
            if device.system_port
            else ""
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} device {device.name} ({device.backend}, host {device.host}{ports})"
            )
        )
