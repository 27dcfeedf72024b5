"""What happened in each pass, recorded when it happened.

One row per job and pass it entered: how it entered (import, requeue, review) and how it ended
in that pass (success, failed with category and type, needs_review, cancelled) or that it is
still in it. A requeue closes the job's row in pass N (moved on) and opens one in pass N+1, so
pass N's figures never change afterwards: they are read from these rows, never recomputed
from the jobs' current pass number.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Count, Q

from posting.models.choices import ErrorCategory, ErrorType, JobStatus


class EntryReason(models.TextChoices):
    IMPORT = "import", "Imported"
    ADDED = "added", "Added in the admin"
    REQUEUE = "requeue", "Requeued"
    REVIEW = "review", "Reviewed: not posted"


# How a job can end in a pass ('' while it is still pending or running there).
ENDED_IN_PASS = (JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.NEEDS_REVIEW, JobStatus.CANCELLED)


class PassEntryQuerySet(models.QuerySet):
    def figures(self, numbers) -> dict[int, dict]:
        """Per pass number: entered (and how), outcomes, failures by category/type, moved on."""
        rows = (
            self.filter(pass_number__in=list(numbers))
            .values("pass_number", "entered_by", "outcome", "error_category", "error_type")
            .annotate(n=Count("id"), moved=Count("id", filter=Q(moved_on=True)))
            .order_by()
        )
        figures = {n: empty_figures() for n in numbers}
        for row in rows:
            add_row(figures[row["pass_number"]], row)
        return figures


def empty_figures() -> dict:
    return {
        "entered": 0,
        "entered_by": {},
        "in_pass": 0,
        "outcomes": {},
        "failures": {},
        "failed_by_category": {},
        "moved_on": 0,
    }


def add_row(figures: dict, row: dict) -> None:
    n = row["n"]
    figures["entered"] += n
    figures["entered_by"][row["entered_by"]] = figures["entered_by"].get(row["entered_by"], 0) + n
    figures["moved_on"] += row["moved"]
    outcome = row["outcome"]
    if not outcome:
        figures["in_pass"] += n
        return
    figures["outcomes"][outcome] = figures["outcomes"].get(outcome, 0) + n
    if outcome == JobStatus.FAILED:
        key = f"{row['error_category']}/{row['error_type'] or '-'}"
        figures["failures"][key] = figures["failures"].get(key, 0) + n
        category = row["error_category"] or "unknown"
        by_category = figures["failed_by_category"]
        by_category[category] = by_category.get(category, 0) + n


class PassEntry(models.Model):
    pass_number = models.PositiveIntegerField()
    # Indexed by the unique (job, pass_number) below, whose prefix serves lookups by job.
    job = models.ForeignKey(
        "posting.Job", on_delete=models.CASCADE, related_name="pass_entries", db_index=False
    )
    entered_by = models.CharField(max_length=20, choices=EntryReason.choices)
    entered_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, blank=True, help_text="'' while still in the pass.")
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    error_type = models.CharField(max_length=40, choices=ErrorType.choices, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    moved_on = models.BooleanField(default=False, help_text="Requeued into the next pass.")
    current = models.BooleanField(default=True, help_text="The job's row for its current pass.")

    objects = PassEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "pass entries"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "pass_number"], name="%(app_label)s_%(class)s_once_per_pass"
            ),
            # each transition updates the job's current row
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(current=True),
                name="%(app_label)s_%(class)s_one_current_per_job",
            ),
        ]
        indexes = [
            # a pass's figures (Passes page, dashboard, progress), every count index-only
            models.Index(
                fields=[
                    "pass_number",
                    "entered_by",
                    "outcome",
                    "error_category",
                    "error_type",
                    "moved_on",
                ],
                name="posting_passentry_figures",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} in pass {self.pass_number}"
