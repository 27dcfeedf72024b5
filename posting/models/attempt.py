"""One try of a job on a device, with its lease, checkpoint and classified outcome."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, models, transaction
from django.db.models import Q

from posting import statements
from posting.models.choices import AttemptOutcome, ErrorCategory, ErrorType
from posting.models.hourly_outcomes import HourlyOutcome, counting
from posting.models.pass_failures import FAILED_OUTCOMES, PassFailure

# The files an attempt may keep as evidence: each is a FileField of Attempt.
EVIDENCE_KINDS = ("screenshot", "page_source", "logcat")


class LeaseLost(Exception):
    """The attempt's lease token no longer owns the attempt (expired and taken over)."""


class AttemptCancelled(Exception):
    """An operator cancelled the job before its publishing checkpoint."""


class AttemptQuerySet(models.QuerySet):
    def running(self) -> AttemptQuerySet:
        return self.filter(outcome=AttemptOutcome.RUNNING)

    def lease_expired(self, now: datetime) -> AttemptQuerySet:
        return self.running().filter(lease_expires_at__lt=now)

    def holding(self, token: uuid.UUID) -> AttemptQuerySet:
        """The running attempt this token still owns (empty once taken over)."""
        return self.filter(lease_token=token, outcome=AttemptOutcome.RUNNING)


class Attempt(models.Model):
    # Indexed by posting_attempt_job and posting_attempt_device below (the key, then the newest
    # first), whose prefixes serve every lookup by the key: a plain index would be a duplicate
    # written on every attempt.
    job = models.ForeignKey(
        "posting.Job", on_delete=models.CASCADE, related_name="attempt_set", db_index=False
    )
    device = models.ForeignKey(
        "devices.Device", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    pass_number = models.PositiveIntegerField()
    number = models.PositiveIntegerField(help_text="Attempt number within the pass.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=20, choices=AttemptOutcome.choices, default=AttemptOutcome.RUNNING
    )
    error = models.TextField(blank=True)
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    error_type = models.CharField(max_length=40, choices=ErrorType.choices, blank=True)
    matched_rule = models.CharField(max_length=200, blank=True)
    log = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    checkpoint_at = models.DateTimeField(
        null=True, blank=True, help_text="Committed just before the irreversible publish tap."
    )
    lease_token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lease_expires_at = models.DateTimeField()
    screenshot = models.FileField(blank=True, help_text="The screen when the attempt failed.")
    page_source = models.FileField(blank=True, help_text="The UI hierarchy when it failed.")
    logcat = models.FileField(
        blank=True, help_text="The phone's last logcat lines when it failed (UiAutomator2)."
    )
    cluster = models.CharField(max_length=100, blank=True, help_text="The cluster that ran it.")
    worker_pid = models.PositiveIntegerField(null=True, blank=True)

    objects = AttemptQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # Invariant 1: one running attempt per device and per job, enforced by the database.
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(outcome="running"),
                name="%(app_label)s_%(class)s_one_running_per_device",
            ),
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(outcome="running"),
                name="%(app_label)s_%(class)s_one_running_per_job",
            ),
        ]
        indexes = [
            # the sweep: running attempts whose lease expired
            models.Index(
                fields=["lease_expires_at"],
                condition=Q(outcome="running"),
                name="posting_attempt_running_lease",
            ),
            # a job's attempts (inline), newest first
            models.Index(fields=["job", "-id"], name="posting_attempt_job"),
            # admin filters: outcome, category/type, device, pass
            models.Index(fields=["outcome", "-id"], name="posting_attempt_outcome"),
            models.Index(fields=["error_category", "error_type"], name="posting_attempt_cat_type"),
            models.Index(fields=["device", "-id"], name="posting_attempt_device"),
            models.Index(fields=["pass_number"], name="posting_attempt_pass"),
            # retention: finished attempts older than the cutoff; the estimate: recent ones
            models.Index(fields=["finished_at", "outcome"], name="posting_attempt_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.job_id} #{self.number} (pass {self.pass_number})"

    @property
    def duration(self) -> timedelta | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.started_at

    def extend_lease(self, now: datetime, seconds: float) -> bool:
        """The heartbeat: keep the lease while the backend works. False once taken over."""
        return (
            Attempt.objects.holding(self.lease_token).update(
                lease_expires_at=now + timedelta(seconds=seconds)
            )
            == 1
        )

    def take_over_expired_lease(self, now: datetime, seconds: float) -> bool:
        """The sweep's claim on a lost attempt, so that one sweeper alone recovers (and asks
        the phone about) it; the row count decides. The token stays: the job carries it."""
        taken = (
            Attempt.objects.lease_expired(now)
            .filter(pk=self.pk, lease_token=self.lease_token)
            .update(lease_expires_at=now + timedelta(seconds=seconds))
        )
        return taken == 1

    def mark_checkpoint(self, now: datetime) -> None:
        """Commit "about to publish". Raises LeaseLost or AttemptCancelled instead."""
        from posting.models.job import Job  # sibling module; avoids an import cycle

        if _mark_checkpoint(self.lease_token, now) == 1:
            self.checkpoint_at = now
            return
        if Job.objects.filter(pk=self.job_id, cancel_requested=True).exists():
            raise AttemptCancelled(f"job {self.job_id} was cancelled before publishing")
        raise LeaseLost(f"attempt {self.pk} lost its lease before publishing")

    def finish(self, *, ended: str, now: datetime, outcome: Outcome) -> bool:
        """End the attempt (as `ended`: success, failed or lost) with the outcome as it is, if
        this token still owns the attempt. The row count decides.

        The attempt is counted in its hour's throughput, and a failed or lost one in its
        pass's failure counters, in the same transaction (the caller's, or one of its own), so
        the counters never disagree with the attempts.
        """
        fields = _finish_fields(ended, now, outcome)
        with transaction.atomic(savepoint=False):
            if not _finish_counted(self.lease_token, fields, ended, now):
                return False
            self.finished(fields)
            if ended in FAILED_OUTCOMES:
                PassFailure.objects.count_failure(self)
        return True

    def finishing(self, *, now: datetime, outcome: Outcome) -> tuple[str, list, dict]:
        """A success's end as WITH queries for a caller's statement (PostgreSQL): `finished`,
        this attempt's UPDATE (one row if this token still owns it), and its count in its
        hour. Then the fields to give the instance (`finished`) once the statement updated it.
        Only successes: a failure is also counted in its pass, which `finish` does."""
        fields = _finish_fields(AttemptOutcome.SUCCESS, now, outcome)
        sql, params = _finishing(self.lease_token, fields, AttemptOutcome.SUCCESS, now)
        return sql, params, fields

    def finished(self, fields: dict) -> None:
        """The instance as its finishing UPDATE left the row."""
        for name, value in fields.items():
            setattr(self, name, value)


def _finish_fields(ended: str, now: datetime, outcome: Outcome) -> dict:
    if ended == AttemptOutcome.RUNNING:
        raise ValueError("an attempt cannot finish as running")
    fields = {
        "outcome": ended,
        "finished_at": now,
        "error": outcome.error,
        "error_category": outcome.category,
        "error_type": outcome.error_type,
        "matched_rule": outcome.rule[:200],
        "traceback": outcome.traceback,
        **dict(outcome.evidence),
    }
    if outcome.log is not None:
        fields["log"] = outcome.log
    return fields


def _finish_counted(token: uuid.UUID, fields: dict, ended: str, now: datetime) -> bool:
    """The attempt's UPDATE, if this token still owns it, and its count in its hour; whether
    it was updated. Written once (posting.statements). On PostgreSQL one statement, the count
    inserted from the UPDATE's RETURNING (nothing counted when nothing was updated): a round
    trip less on every job."""
    if not statements.merges_writes():
        (lease,) = statements.prepared(Attempt, {"lease_token": token})
        holding, params = "lease_token = %s AND outcome = %s", [lease, AttemptOutcome.RUNNING]
        if statements.update(Attempt, fields, holding, params) != 1:
            return False
        HourlyOutcome.objects.count_finished(ended, now)
        return True
    sql, params = _finishing(token, fields, ended, now)
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {sql} SELECT COUNT(*) FROM finished", params)
        return cursor.fetchone()[0] == 1


def _finishing(token: uuid.UUID, fields: dict, ended: str, now: datetime) -> tuple[str, list]:
    """PostgreSQL's WITH queries `finished` (the attempt's UPDATE, if this token still owns
    it) and `counted` (its count in its hour, inserted from the UPDATE's RETURNING: nothing
    is counted when nothing was updated)."""
    (lease,) = statements.prepared(Attempt, {"lease_token": token})
    holding, params = "lease_token = %s AND outcome = %s", [lease, AttemptOutcome.RUNNING]
    update_sql, update_params = statements.update_statement(Attempt, fields, holding, params)
    count_sql, count_params = counting(ended, now, rows_of="finished")
    return (
        f"finished AS ({update_sql} RETURNING 1), counted AS ({count_sql})",
        [*update_params, *count_params],
    )


def _mark_checkpoint(token: uuid.UUID, now: datetime) -> int:
    """The checkpoint's conditional UPDATE: the running attempt this token owns, its lease not
    ended, its job not asked to cancel. Written out rather than built through the ORM on each
    attempt (whose join filter on an UPDATE becomes an `id IN (SELECT ...)` costing most of a
    millisecond of CPU); the row count decides as it did."""
    from posting.models.job import Job  # sibling module; avoids an import cycle

    q = connection.ops.quote_name
    attempt, job = q(Attempt._meta.db_table), q(Job._meta.db_table)
    sql = (
        f"UPDATE {attempt} SET checkpoint_at = %s WHERE lease_token = %s AND outcome = %s "
        f"AND lease_expires_at >= %s AND NOT EXISTS (SELECT 1 FROM {job} j "
        f"WHERE j.id = {attempt}.job_id AND j.cancel_requested)"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    lease = Attempt._meta.get_field("lease_token").get_db_prep_value(token, connection)
    with connection.cursor() as cursor:
        cursor.execute(sql, [at, lease, AttemptOutcome.RUNNING, at])
        return cursor.rowcount


@dataclass(frozen=True)
class Outcome:
    """What one attempt did, built once from what the backend did (or from what the sweep or
    a reporter knows), and recorded as it is by the Attempt and the Job."""

    success: bool
    error: str = ""
    category: str = ""
    error_type: str = ""
    rule: str = ""
    post_url: str = ""
    traceback: str = ""
    checkpoint_passed: bool = False
    timed_out: bool = False
    lease_lost: bool = False
    cancelled: bool = False
    log: str | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def failed(cls, error: str, category: str, error_type: str, rule: str, **facts) -> Outcome:
        return cls(False, error, category, error_type, rule, **facts)

    def as_result(self) -> tuple[bool, str, str, str]:
        """The original task's 4-tuple: (success, error, error_category, error_type)."""
        return (self.success, self.error, self.category, self.error_type)
