"""A posting job (one video, one caption, one account) and the passes that group its runs."""

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Count, Max, Q

from posting.models.choices import (
    ErrorCategory,
    ErrorType,
    JobStatus,
)


def default_max_attempts() -> int:
    return settings.DEFAULT_MAX_ATTEMPTS


class InvalidTransition(Exception):
    """A state change the job's current status does not allow."""


class Pass(models.Model):
    """A numbered, audited run over the jobs: pass 1 is the first, requeues start the next."""

    number = models.PositiveIntegerField(unique=True)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    filter = models.JSONField(default=dict, blank=True, help_text="Which jobs were moved in.")
    job_count = models.PositiveIntegerField(default=0)
    note = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text="When its last pending or running job ended."
    )

    class Meta:
        ordering = ["-number"]
        verbose_name_plural = "passes"

    def __str__(self) -> str:
        return f"Pass {self.number}"

    @classmethod
    def latest_number(cls) -> int:
        return cls.objects.aggregate(n=Max("number"))["n"] or 0

    @classmethod
    def finish_if_done(cls, number: int, now: datetime) -> bool:
        """Mark the pass finished once none of its jobs waits or runs; True the first time."""
        active = Job.objects.filter(
            pass_number=number, status__in=[JobStatus.PENDING, JobStatus.RUNNING]
        )
        if active.exists():
            return False
        return (
            cls.objects.filter(number=number, finished_at__isnull=True).update(finished_at=now) == 1
        )


class JobQuerySet(models.QuerySet):
    def due(self, now: datetime) -> "JobQuerySet":
        """Jobs whose retry delay and schedule have passed."""
        return self.filter(
            Q(retry_at__isnull=True) | Q(retry_at__lte=now),
            Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now),
        )

    def runnable_order(self) -> "JobQuerySet":
        return self.order_by("-priority", "id")

    def requeueable(self) -> "JobQuerySet":
        """Failed jobs; needs_review jobs never move by a bulk requeue."""
        return self.filter(status=JobStatus.FAILED)

    def counts_by_status(self) -> dict[str, int]:
        rows = self.values_list("status").annotate(n=Count("id")).order_by("status")
        return {status: n for status, n in rows}

    def counts_by_type(self) -> dict[str, int]:
        rows = self.values_list("error_type").annotate(n=Count("id")).order_by("error_type")
        return {error_type: n for error_type, n in rows}


class Job(models.Model):
    # The legacy progress columns, in their order.
    job_id = models.CharField(max_length=200, unique=True)
    account = models.ForeignKey("posting.Account", on_delete=models.PROTECT, related_name="jobs")
    video_path = models.CharField(max_length=1000)
    caption = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=JobStatus.choices, default=JobStatus.PENDING)
    device = models.ForeignKey(
        "devices.Device",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The device of the latest attempt (the legacy worker_id).",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts in the current pass.")
    max_attempts = models.PositiveIntegerField(default=default_max_attempts)
    retry_at = models.DateTimeField(null=True, blank=True)
    error_type = models.CharField(max_length=40, choices=ErrorType.choices, blank=True)
    error_category = models.CharField(max_length=20, choices=ErrorCategory.choices, blank=True)
    pass_number = models.PositiveIntegerField(default=1)
    # Newer columns.
    scheduled_at = models.DateTimeField(null=True, blank=True)
    priority = models.IntegerField(default=0, help_text="Higher runs first.")
    post_url = models.CharField(max_length=500, blank=True)
    cancel_requested = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who decided a needs_review job was posted or not.",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    # The lease token of the running attempt: every write of a running job checks it.
    lease_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        permissions = [
            ("requeue_job", "Can requeue infrastructure failures and retry jobs now"),
            ("requeue_any_job", "Can requeue failed jobs of any category"),
            ("review_job", "Can decide whether a needs_review job was posted"),
            ("cancel_job", "Can cancel jobs"),
            ("import_jobs", "Can import jobs from a CSV in the admin"),
        ]
        indexes = [
            # the claim: pending jobs of a device's accounts, highest priority first
            models.Index(
                fields=["account", "-priority", "id"],
                condition=Q(status="pending"),
                name="posting_job_pending_claim",
            ),
            # the dashboard's per-pass progress, index-only; admin filters by pass and status, and
            # the breakdown's links by pass, category and type (read from this index's entries
            # of the pass). Filters by status alone use posting_job_status_category. A filter by
            # category alone reads the list in id order (45-100 ms at 100,000 jobs): an index
            # of its own cost every requeue and job end a fifth of its UPDATE.
            models.Index(
                fields=["pass_number", "status", "error_category", "error_type"],
                name="posting_job_pass_status",
            ),
            # the job list filtered by status and category (the dashboard's failed segments),
            # in the list's id order: without it SQLite sorts every matching job for a page
            models.Index(
                fields=["status", "error_category", "id"], name="posting_job_status_category"
            ),
            # pending jobs waiting for a retry or a schedule (`retry_at > now` and the like,
            # which imply NOT NULL): the dashboard, the "waiting because" filters. Jobs without
            # one are left out: most pending jobs, and no query looks for them here, so a
            # requeue or an import of 50,000 jobs writes no entries into these two.
            models.Index(
                fields=["retry_at"],
                condition=Q(status="pending", retry_at__isnull=False),
                name="posting_job_pending_retry_at",
            ),
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="pending", scheduled_at__isnull=False),
                name="posting_job_pending_scheduled",
            ),
        ]

    def __str__(self) -> str:
        return self.job_id

    @property
    def category_and_type(self) -> str:
        if not self.error_category:
            return ""
        return f"{self.error_category}/{self.error_type or '—'}"
