"""A posting job (one video, one caption, one account) and the passes that group its runs."""

from datetime import datetime

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Max, Q

from posting.input_rules import InvalidValue, checked_post_url
from posting.models.choices import (
    CANCELLABLE_JOB_STATUSES,
    ErrorCategory,
    ErrorType,
    JobStatus,
)


def default_max_attempts() -> int:
    return settings.DEFAULT_MAX_ATTEMPTS


class InvalidPostUrl(ValueError):
    """A reviewer's post URL that is not a plain http(s) address within the column."""


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

    def mark_posted(self, *, user, now: datetime, post_urls: dict[int, str] | None = None) -> int:
        """Review: these needs_review jobs were posted. They succeed; nothing is published."""
        reviewed = self.filter(status=JobStatus.NEEDS_REVIEW)
        fields = {
            "status": JobStatus.SUCCESS,
            "reviewed_by": user,
            "reviewed_at": now,
            "completed_at": now,
            "updated_at": now,
            "error": "",
            "error_category": ErrorCategory.NONE,
            "error_type": ErrorType.NONE,
        }
        with_url = {}
        for pk, url in (post_urls or {}).items():
            try:
                with_url[pk] = checked_post_url(url, Job._meta.get_field("post_url").max_length)
            except InvalidValue as exc:
                job_id = Job.objects.filter(pk=pk).values_list("job_id", flat=True).first()
                raise InvalidPostUrl(f"post URL of job {job_id}: {exc}") from None
        with_url = {pk: url for pk, url in with_url.items() if url}
        with transaction.atomic():
            done = sum(
                reviewed.filter(pk=pk).update(post_url=url, **fields)
                for pk, url in with_url.items()
            )
            return done + reviewed.exclude(pk__in=with_url).update(**fields)

    def mark_not_posted(self, *, user, now: datetime) -> tuple[Pass | None, int]:
        """Review: these needs_review jobs were not posted. They move into one new pass."""
        with transaction.atomic():
            ids = list(self.filter(status=JobStatus.NEEDS_REVIEW).values_list("pk", flat=True))
            Job.objects.filter(pk__in=ids).update(
                status=JobStatus.FAILED, reviewed_by=user, reviewed_at=now, updated_at=now
            )
            new_pass, _ = Job.objects.filter(pk__in=ids).requeue_as_new_pass(
                now=now,
                started_by=user,
                filter_description={"source": "review: not posted", "jobs": len(ids)},
            )
        return new_pass, len(ids)

    def retry_now(self, now: datetime) -> int:
        """Waiting retries become due at once."""
        return self.filter(status=JobStatus.PENDING, retry_at__gt=now).update(
            retry_at=now, updated_at=now
        )

    def cancel(self, now: datetime) -> tuple[int, int]:
        """Cancel waiting jobs; running ones stop at their next step boundary (before the
        publishing checkpoint). Returns (cancelled, asked to stop)."""
        cancelled = self.filter(status__in=CANCELLABLE_JOB_STATUSES).update(
            status=JobStatus.CANCELLED, retry_at=None, updated_at=now
        )
        stopping = self.filter(status=JobStatus.RUNNING).update(cancel_requested=True)
        return cancelled, stopping

    def requeue_as_new_pass(
        self, *, now: datetime, started_by=None, filter_description: dict | None = None
    ) -> tuple[Pass | None, dict[str, int]]:
        """Move the failed jobs of this queryset into a new pass with a fresh attempt budget.

        Earlier attempts stay. Returns the pass (None when nothing matched) and how many jobs
        of each type moved. Two bulk statements, whatever the number of jobs.
        """
        with transaction.atomic():
            jobs = self.requeueable()
            counts = jobs.counts_by_type()
            if not counts:
                return None, {}
            new_pass = Pass.objects.create(
                number=Pass.latest_number() + 1,
                started_at=now,
                started_by=started_by,
                filter=filter_description or {},
            )
            moved = jobs.update(
                status=JobStatus.PENDING,
                pass_number=new_pass.number,
                attempts=0,
                retry_at=None,
                claimed_at=None,
                completed_at=None,
                error="",
                error_category=ErrorCategory.NONE,
                error_type=ErrorType.NONE,
                updated_at=now,
            )
            new_pass.job_count = moved
            new_pass.save(update_fields=["job_count"])
        return new_pass, counts


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
        ]
        indexes = [
            # the claim: pending jobs of a device's accounts, highest priority first
            models.Index(
                fields=["account", "-priority", "id"],
                condition=Q(status="pending"),
                name="posting_job_pending_claim",
            ),
            # admin filters and progress counts: status, pass, category/type
            models.Index(fields=["status", "pass_number"], name="posting_job_status_pass"),
            # the dashboard's per-pass progress and failure breakdown, index-only
            models.Index(
                fields=["pass_number", "status", "error_category", "error_type"],
                name="posting_job_pass_status",
            ),
            # the dashboard's time-to-finish estimate: jobs completed in the last hour
            models.Index(fields=["completed_at"], name="posting_job_completed"),
            models.Index(fields=["error_category", "error_type"], name="posting_job_category_type"),
            # admin filter: device; the sweep: when does waiting work become due
            models.Index(fields=["device"], name="posting_job_device"),
            models.Index(
                fields=["retry_at"],
                condition=Q(status="pending"),
                name="posting_job_pending_retry_at",
            ),
            models.Index(
                fields=["scheduled_at"],
                condition=Q(status="pending"),
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

    def cancel(self) -> bool:
        """Cancel a job that is not running. Running jobs: `request_cancel()`."""
        if self.status not in CANCELLABLE_JOB_STATUSES:
            raise InvalidTransition(f"job {self.job_id} is {self.status}; it cannot be cancelled")
        done = Job.objects.filter(pk=self.pk, status=self.status).update(
            status=JobStatus.CANCELLED, retry_at=None
        )
        self.refresh_from_db(fields=["status", "retry_at"])
        return done == 1

    def request_cancel(self) -> bool:
        """Ask a running job to stop at its next step boundary (before the checkpoint)."""
        return (
            Job.objects.filter(pk=self.pk, status=JobStatus.RUNNING).update(cancel_requested=True)
            == 1
        )
