from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from posting.lifecycle import requeue_as_new_pass
from posting.models import ErrorCategory, ErrorType, Job, Pass

ANY = "any"


class Command(BaseCommand):
    help = (
        "Move failed jobs of a category (default infrastructure) into a new pass with a fresh "
        "attempt budget. needs_review jobs never move this way."
    )

    def add_arguments(self, parser):
        categories = [c for c in ErrorCategory.values if c] + [ANY]
        parser.add_argument(
            "--category",
            default=ErrorCategory.INFRASTRUCTURE,
            choices=categories,
            help="'any' requeues failed jobs of every category (accounts still held are held "
            "again at once).",
        )
        parser.add_argument("--type", dest="error_type", choices=[t for t in ErrorType.values if t])
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, category: str, error_type: str | None, dry_run: bool, **options):
        jobs = Job.objects.all() if category == ANY else Job.objects.filter(error_category=category)
        if error_type:
            jobs = jobs.filter(error_type=error_type)
        if dry_run:
            counts = jobs.requeueable().counts_by_type()
            self._report(counts, Pass.latest_number() + 1, "would move")
            return
        new_pass, counts = requeue_as_new_pass(
            jobs, now=timezone.now(), filter_description=_describe(category, error_type)
        )
        if new_pass is None:
            raise CommandError(f"no failed {category} jobs to requeue")
        self._report(counts, new_pass.number, "moved")

    def _report(self, counts: dict[str, int], number: int, verb: str) -> None:
        for error_type, n in sorted(counts.items()):
            self.stdout.write(f"    {error_type or '(unrecognised)'}: {n}")
        total = sum(counts.values())
        self.stdout.write(
            self.style.SUCCESS(f"{verb} {total} job{'' if total == 1 else 's'} into pass {number}")
        )


def _describe(category: str, error_type: str | None) -> dict:
    described = {"source": "requeue_failures", "error_category": category}
    if error_type:
        described["error_type"] = error_type
    return described
