import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from posting.csv_import import ImportRefused, import_jobs


class Command(BaseCommand):
    help = (
        "Import jobs from a CSV (job_id, account, video_path, caption; optional scheduled_at, "
        "priority, max_attempts, device), including legacy progress files. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--dry-run", action="store_true", help="Validate and report only.")
        parser.add_argument(
            "--update",
            action="store_true",
            help="Change content fields of existing pending or failed jobs.",
        )
        parser.add_argument(
            "--check-files", action="store_true", help="Refuse rows whose video file is missing."
        )

    def handle(self, *args, path: str, dry_run: bool, update: bool, check_files: bool, **options):
        # tqdm shows itself only on a terminal, so logs and CI output stay clean.
        with tqdm(desc="validating", unit=" rows", disable=None, file=sys.stderr) as bar:
            try:
                summary = import_jobs(
                    path, dry_run=dry_run, update=update, check_files=check_files, progress=bar
                )
            except FileNotFoundError:
                raise CommandError(f"{path}: no such file") from None
            except ImportRefused as refused:
                for problem in refused.problems:
                    self.stderr.write(f"{path}: {problem}")
                hidden = refused.total - len(refused.problems)
                if hidden:
                    self.stderr.write(f"... and {hidden} more")
                raise CommandError(
                    f"{path}: {refused.total} problems; nothing was imported"
                ) from None
        self.stdout.write(self.style.SUCCESS(str(summary)))
