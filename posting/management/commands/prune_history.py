from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from posting.retention import prune_history


class Command(BaseCommand):
    help = (
        "Delete attempts (and their screenshots and page sources) older than RETENTION_DAYS, "
        "except those of needs_review jobs and of the latest pass."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, days: int | None, dry_run: bool, **options):
        days = days or settings.RETENTION_DAYS
        report = prune_history(timezone.now(), days, dry_run=dry_run)
        verb = "would prune" if dry_run else "pruned"
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {report.attempts} attempts, {report.files} files")
        )
