import sys

from django.core.management.base import BaseCommand, CommandError

from posting.csv_export import export_progress
from posting.models import Job, JobStatus


class Command(BaseCommand):
    help = "Write every job as a progress CSV (legacy columns first). PATH '-' is stdout."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--status", choices=JobStatus.values, help="Only jobs in this status.")

    def handle(self, *args, path: str, status: str | None, **options):
        jobs = Job.objects.all()
        if status:
            jobs = jobs.filter(status=status)
        if path == "-":
            count = export_progress(jobs, sys.stdout)
            return
        try:
            with open(path, "w", newline="", encoding="utf-8") as out:
                count = export_progress(jobs, out)
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from None
        self.stdout.write(
            self.style.SUCCESS(f"exported {count} job{'' if count == 1 else 's'} to {path}")
        )
