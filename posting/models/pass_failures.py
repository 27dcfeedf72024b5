"""Each pass's failed attempts by category and type, counted when each attempt fails.

The dashboard's failure breakdown reads these counters instead of counting a million attempt
rows (with a COUNT DISTINCT of their jobs) on every refresh. `Attempt.finish` records a failed
or lost attempt here in the transaction that ends it, so a counter never disagrees with the
attempts it counts; `recount` rebuilds them from the attempts (the migration that introduced
them, and data written around the runner, such as the benchmark's bulk inserts).
"""

from __future__ import annotations

from django.db import connection, models
from django.db.models import Count

from posting.models.choices import AttemptOutcome, ErrorCategory, ErrorType

# The attempt outcomes counted as failures: both end an attempt that did not post.
FAILED_OUTCOMES = (AttemptOutcome.FAILED, AttemptOutcome.LOST)


class PassFailureQuerySet(models.QuerySet):
    def count_failure(self, attempt) -> None:
        """Count one attempt that just ended failed or lost (its fields already written).

        `jobs` grows only with the job's first failed attempt of this category and type in the
        pass: one whose earlier attempts there (lower numbers) did not fail that way. Whatever
        order attempts are counted in, each job is counted once.
        One upsert: two jobs failing with a new type at once on PostgreSQL both add, neither
        trips over the other's insert.
        """
        from posting.models.attempt import Attempt  # sibling module; avoids an import cycle

        q = connection.ops.quote_name
        table, attempts = q(PassFailure._meta.db_table), q(Attempt._meta.db_table)
        # Whether the job failed this way earlier in the pass is asked inside the upsert: one
        # statement per failed attempt, not a read and then a write.
        sql = (
            f"INSERT INTO {table} (pass_number, error_category, error_type, attempts, jobs) "
            "SELECT %s, %s, %s, 1, CASE WHEN EXISTS (SELECT 1 FROM "
            f"{attempts} b WHERE b.job_id = %s AND b.pass_number = %s AND b.error_category = %s "
            "AND b.error_type = %s AND b.outcome IN (%s, %s) AND b.number < %s) THEN 0 ELSE 1 END "
            # WHERE true: SQLite reads an upsert's ON after a bare SELECT as a join's.
            "WHERE true ON CONFLICT (pass_number, error_category, error_type) DO UPDATE SET "
            f"attempts = {table}.attempts + excluded.attempts, "
            f"jobs = {table}.jobs + excluded.jobs"
        )
        key = [attempt.pass_number, attempt.error_category, attempt.error_type]
        same = [attempt.job_id, *key, *FAILED_OUTCOMES, attempt.number]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*key, *same])

    def recount(self, pass_numbers=None) -> None:
        """Rebuild the counters of these passes (all when None) from their attempts."""
        from posting.models.attempt import Attempt  # sibling module; avoids an import cycle

        attempts = Attempt.objects.filter(outcome__in=FAILED_OUTCOMES)
        counters = self.all()
        if pass_numbers is not None:
            attempts = attempts.filter(pass_number__in=list(pass_numbers))
            counters = counters.filter(pass_number__in=list(pass_numbers))
        counters.delete()
        rows = (
            attempts.values("pass_number", "error_category", "error_type")
            .annotate(n=Count("id"), distinct_jobs=Count("job", distinct=True))
            .order_by()
        )
        self.bulk_create(
            PassFailure(
                pass_number=r["pass_number"],
                error_category=r["error_category"],
                error_type=r["error_type"],
                attempts=r["n"],
                jobs=r["distinct_jobs"],
            )
            for r in rows
        )


class PassFailure(models.Model):
    pass_number = models.PositiveIntegerField()
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    error_type = models.CharField(max_length=40, choices=ErrorType.choices, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed or lost attempts.")
    jobs = models.PositiveIntegerField(default=0, help_text="Distinct jobs among them.")

    objects = PassFailureQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pass_number", "error_category", "error_type"],
                name="%(app_label)s_%(class)s_one_per_type",
            ),
        ]

    def __str__(self) -> str:
        return f"pass {self.pass_number}: {self.error_category}/{self.error_type} x{self.attempts}"
