import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from posting.cli import pause_lines
from posting.csv_import import ImportRefused, import_jobs


class Command(BaseCommand):
    help = (
        "Import jobs from a CSV (job_id, account, video_path, caption; optional scheduled_at, "
        "priority, max_attempts, device), including legacy progress files. All or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The CSV file; '-' reads standard input.")
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
            except ImportRefused as refused:
                raise self._refusal(path, refused) from None
        # Imported jobs wait while something is paused: say so, as the console does.
        for line in pause_lines():
            self.stdout.write(self.style.WARNING(line))
        self.stdout.write(self.style.SUCCESS(str(summary)))

    def _refusal(self, path: str, refused: ImportRefused) -> CommandError:
        name = "standard input" if path == "-" else path
        if refused.total == 1 and not refused.problems[0].line:
            return CommandError(f"{name}: {refused.problems[0]}; nothing was imported")
        for problem in refused.problems:
            self.stderr.write(f"{name}: {problem}")
        hidden = refused.total - len(refused.problems)
        if hidden:
            self.stderr.write(f"... and {hidden} more")
        noun = "problem" if refused.total == 1 else "problems"
        return CommandError(f"{name}: {refused.total} {noun}; nothing was imported")
