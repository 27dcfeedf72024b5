import json

from django.core.management.base import BaseCommand

from posting.cli import quiet_broken_pipe
from posting.progress import progress_counts


class Command(BaseCommand):
    help = (
        "Counts of jobs by pass (as recorded when it happened: a requeue never changes an "
        "earlier pass), status, category and type."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json")

    def handle(self, *args, as_json: bool, **options):
        with quiet_broken_pipe():
            self._report(as_json)

    def _report(self, as_json: bool) -> None:
        counts = progress_counts()
        if as_json:
            self.stdout.write(json.dumps(counts, indent=2, sort_keys=True))
            return
        for number, entry in sorted(counts["passes"].items()):
            statuses = ", ".join(f"{s} {n}" for s, n in sorted(entry["by_status"].items()))
            jobs = "job" if entry["total"] == 1 else "jobs"
            moved = f", {entry['moved_on']} moved on" if entry["moved_on"] else ""
            self.stdout.write(f"Pass {number}: {entry['total']} {jobs} ({statuses}{moved})")
            for key, n in sorted(entry["failures"].items()):
                self.stdout.write(f"    {key}: {n}")
        if counts["fleet_paused"]:
            self.stdout.write(self.style.WARNING("The fleet is paused: no new attempts start"))
        for pause in counts["pauses"]:
            self.stdout.write(self.style.WARNING(f"Paused: {pause['text']}"))
            if pause["accounts"]:
                self.stdout.write(f"    accounts: {', '.join(pause['accounts'])}")
        totals = ", ".join(f"{s} {n}" for s, n in sorted(counts["by_status"].items()))
        self.stdout.write(self.style.SUCCESS(f"{counts['total']} jobs: {totals or 'none'}"))
