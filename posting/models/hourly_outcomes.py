"""Finished attempts per hour and outcome, counted when each attempt finishes.

The dashboard's throughput chart reads twelve of these hours. Counting them from the attempts
read every attempt of the last twelve hours on each refresh (100,000 index entries an hour at
a busy fleet's pace). `Attempt.finish` counts each attempt in the hour it finished in, in the
transaction that ends it; an hour that has passed never changes afterwards.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import connection, models
from django.db.models import Count
from django.db.models.functions import TruncHour

from posting.models.choices import AttemptOutcome


def hour_of(moment: datetime) -> datetime:
    """The UTC hour a moment falls in (the dashboard's hours are UTC-aligned too)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def counting(outcome: str, finished_at: datetime, rows_of: str = "") -> tuple[str, list]:
    """The upsert that counts a finished attempt in its hour, and its parameters. `rows_of`:
    the name of a WITH query it counts one per row of (the attempt's own UPDATE, on
    PostgreSQL), instead of one row of VALUES."""
    table = connection.ops.quote_name(HourlyOutcome._meta.db_table)
    rows = f"SELECT %s, %s, 1 FROM {rows_of}" if rows_of else "VALUES (%s, %s, 1)"
    sql = (
        f"INSERT INTO {table} (hour, outcome, attempts) {rows} "
        f"ON CONFLICT (hour, outcome) DO UPDATE SET attempts = {table}.attempts + 1"
    )
    return sql, [connection.ops.adapt_datetimefield_value(hour_of(finished_at)), outcome]


class HourlyOutcomeQuerySet(models.QuerySet):
    def count_finished(self, outcome: str, finished_at: datetime) -> None:
        """Count one attempt that just finished as `outcome`. One upsert: attempts finishing
        at once on PostgreSQL both add, neither trips over the other's insert."""
        sql, params = counting(outcome, finished_at)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    def recount(self) -> None:
        """Rebuild every hour's counts from the finished attempts."""
        from posting.models.attempt import Attempt  # sibling module; avoids an import cycle

        self.all().delete()
        rows = (
            Attempt.objects.exclude(finished_at=None)
            .exclude(outcome=AttemptOutcome.RUNNING)
            .values("outcome", at=TruncHour("finished_at", tzinfo=UTC))
            .annotate(n=Count("id"))
            .order_by()
        )
        self.bulk_create(
            HourlyOutcome(hour=r["at"], outcome=r["outcome"], attempts=r["n"]) for r in rows
        )


class HourlyOutcome(models.Model):
    hour = models.DateTimeField(help_text="The UTC hour the attempts finished in.")
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    attempts = models.PositiveIntegerField(default=0)

    objects = HourlyOutcomeQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "outcome"], name="%(app_label)s_%(class)s_one_per_hour"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 {self.outcome} x{self.attempts}"
