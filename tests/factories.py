"""Small explicit factories for the tests."""

from datetime import UTC, datetime
from itertools import count

from django.utils import timezone

from devices.models import Device
from posting.claiming import open_attempt
from posting.lifecycle import open_pass_entries
from posting.models import (
    Account,
    Attempt,
    EntryReason,
    HourlyOutcome,
    Job,
    JobStatus,
    Pass,
    PassFailure,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
_serial = count(1)


def make_device(name: str | None = None, **fields) -> Device:
    fields.setdefault("capabilities", {})
    return Device.objects.create(name=name or f"sim-{next(_serial)}", **fields)


def make_account(handle: str | None = None, device: Device | None = None, **fields) -> Account:
    return Account.objects.create(handle=handle or f"@acct{next(_serial)}", device=device, **fields)


def make_job(job_id: str | None = None, account: Account | None = None, **fields) -> Job:
    if account is None:
        account = make_account(device=make_device())
    fields.setdefault("video_path", "/videos/clip.mp4")
    fields.setdefault("caption", "a caption")
    if not Pass.objects.filter(number=fields.get("pass_number", 1)).exists():
        Pass.objects.create(number=fields.get("pass_number", 1), started_at=NOW)
    job = Job.objects.create(job_id=job_id or f"J{next(_serial)}", account=account, **fields)
    open_pass_entries(Job.objects.filter(pk=job.pk), EntryReason.IMPORT, timezone.now())
    return job


def make_failed_job(
    job_id: str, account: Account, category: str = "infrastructure", error_type: str = "adb_timeout"
) -> Job:
    """A job that used its attempts and failed with (category, type)."""
    job = make_job(
        job_id,
        account=account,
        status=JobStatus.FAILED,
        attempts=3,
        error="boom",
        error_category=category,
        error_type=error_type,
    )
    add_failed_attempts(job)
    return job


def add_failed_attempts(job: Job) -> list[Attempt]:
    """The finished attempts a failed job has behind it, as the runner records them (each
    counted in its pass's failure counters and its hour, as `Attempt.finish` does)."""
    attempts = [
        Attempt.objects.create(
            job=job,
            device=job.account.device,
            pass_number=job.pass_number,
            number=number,
            started_at=NOW,
            finished_at=NOW,
            outcome="failed",
            error=job.error,
            error_category=job.error_category,
            error_type=job.error_type,
            lease_expires_at=NOW,
        )
        for number in range(1, max(job.attempts, 1) + 1)
    ]
    for attempt in attempts:
        PassFailure.objects.count_failure(attempt)
        HourlyOutcome.objects.count_finished(attempt.outcome, attempt.finished_at)
    return attempts


def make_review_job(job_id: str, account: Account, **fields) -> Job:
    """A job waiting for an operator: it may have been posted."""
    fields.setdefault("error_category", "unknown")
    fields.setdefault("error_type", "unverified_publish")
    return make_job(job_id, account=account, status=JobStatus.NEEDS_REVIEW, **fields)


def claim(job: Job, device: Device | None = None, now: datetime | None = None) -> Attempt:
    """Open a running attempt for the job, as the runner's claim does."""
    attempt = open_attempt(job, device or job.account.device, now=now or timezone.now())
    assert attempt is not None, f"could not claim {job.job_id}"
    return attempt


def make_stray_running_attempt(job: Job, number: int = 1) -> Attempt:
    """A running attempt of the job on another phone, written directly (no claim): what the
    database's one-running-attempt rules are there to refuse."""
    return Attempt.objects.create(
        job=job,
        device=make_device(),
        pass_number=1,
        number=number,
        started_at=timezone.now(),
        lease_expires_at=timezone.now(),
    )


def refreshed(obj):
    obj.refresh_from_db()
    return obj


__all__ = [
    "NOW",
    "JobStatus",
    "add_failed_attempts",
    "claim",
    "make_account",
    "make_device",
    "make_failed_job",
    "make_job",
    "make_review_job",
    "refreshed",
]
