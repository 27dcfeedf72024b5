"""What happened in each pass, recorded when it happened.

One row per job and pass it entered: how it entered (import, requeue, review) and how it ended
in that pass (success, failed with category and type, needs_review, cancelled) or that it is
still in it. A job's current row is the one of its current pass (Job.pass_number). A requeue
(or "review: not posted") only adds the job's row in pass N+1, which records the pass it came
from (from_pass = N): pass N's rows are never written again, so its figures never change
afterwards. They are read from these rows, never recomputed from the jobs' current pass
number; pass N's "moved on" is the number of rows that came from it.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Count

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
        """Per pass number: entered (and how), outcomes, failures by category/type, moved on.

        One grouped query over the figures index alone. A job moves on from pass N only into a
        later pass, so the rows from the first listed pass on hold both the listed passes' own
        rows and every row that came from one of them (from_pass: their "moved on")."""
        numbers = list(numbers)
        figures = {n: empty_figures() for n in numbers}
        if not numbers:
            return figures
        rows = (
            self.filter(pass_number__gte=min(numbers))
            .values(
                "pass_number", "entered_by", "outcome", "error_category", "error_type", "from_pass"
            )
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in rows:
            if row["pass_number"] in figures:
                add_row(figures[row["pass_number"]], row)
            if row["from_pass"] in figures:
                figures[row["from_pass"]]["moved_on"] += row["n"]
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
    # Indexed by the unique (job, pass_number) below, whose prefix serves lookups by job; the
    # job's current row is its seek (job, Job.pass_number).
    job = models.ForeignKey(
        "posting.Job", on_delete=models.CASCADE, related_name="pass_entries", db_index=False
    )
    entered_by = models.CharField(max_length=20, choices=EntryReason.choices)
    entered_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, blank=True, help_text="'' while still in the pass.")
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    error_type = models.CharField(max_length=40, choices=ErrorType.choices, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    from_pass = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The pass the job left to enter this one (requeue, review: not posted).",
    )

    objects = PassEntryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "pass entries"
        constraints = [
            models.UniqueConstraint(
                fields=["job", "pass_number"], name="%(app_label)s_%(class)s_once_per_pass"
            ),
        ]
        indexes = [
            # a pass's figures (Passes page, dashboard, progress), every count index-only, its
            # "moved on" included (from_pass); one index for a requeue's rows to maintain
            models.Index(
                fields=[
                    "pass_number",
                    "entered_by",
                    "outcome",
                    "error_category",
                    "error_type",
                    "from_pass",
                ],
                name="posting_passentry_figures",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} in pass {self.pass_number}"
