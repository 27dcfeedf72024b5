from django.core.management.base import BaseCommand
from django.utils import timezone

from posting.management.commands.pause import check_scope_name
from posting.models import PauseScope
from posting.pauses import resume


class Command(BaseCommand):
    help = "Resume a paused platform or host (a circuit breaker trip too) and wake its devices."

    def add_arguments(self, parser):
        parser.add_argument("scope", choices=PauseScope.values)
        parser.add_argument("name", help="the platform (tiktok, ...) or the host's name")

    def handle(self, *args, scope: str, name: str, **options):
        check_scope_name(scope, name)
        if not resume(scope, name, now=timezone.now()):
            self.stdout.write(f"{scope} {name} was not paused")
            return
        self.stdout.write(self.style.SUCCESS(f"resumed {scope} {name}; its devices were woken"))
