from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.models import Device
from posting.models import PauseScope, Platform
from posting.pauses import pause


def check_scope_name(scope: str, name: str) -> None:
    """Refuse a platform we do not know, or a host no device names."""
    if scope == PauseScope.PLATFORM and name not in Platform.values:
        raise CommandError(f"unknown platform {name!r} (known: {', '.join(Platform.values)})")
    if scope == PauseScope.HOST and not Device.objects.filter(host=name).exists():
        raise CommandError(f"no device has host {name!r}")


class Command(BaseCommand):
    help = "Pause a platform or a host: no new attempt starts there; running attempts finish."

    def add_arguments(self, parser):
        parser.add_argument("scope", choices=PauseScope.values)
        parser.add_argument("name", help="the platform (tiktok, ...) or the host's name")
        parser.add_argument("--reason", default="", help="why, shown to other operators")

    def handle(self, *args, scope: str, name: str, reason: str, **options):
        check_scope_name(scope, name)
        reason = reason or "paused from the command line"
        if not pause(scope, name, now=timezone.now(), reason=reason):
            self.stdout.write(f"{scope} {name} was already paused")
            return
        self.stdout.write(self.style.SUCCESS(f"paused {scope} {name}: {reason}"))
