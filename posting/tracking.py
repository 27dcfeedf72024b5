"""`update_job_status`: the legacy tracker's entry point, on top of the runner's transitions."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from devices.models import Device
from posting import statements
from posting.claiming import open_attempt
from posting.models import Attempt, InvalidTransition, Job, JobStatus, Outcome
from posting.outcomes import record_failure, record_success
from retries.classification import classify_message
from retries.taxonomy import category_of, is_known_pair


class LeaseHeld(Exception):
    """The job's attempt runs under a live lease and no (or another) token was given."""


def update_job_status(
    job_id: str,
    status: str,
    device: Device | str | int | None,
    error: str = "",
    retry_delay_minutes: float | None = None,
    error_category: str = "",
    error_type: str = "",
    *,
    lease_token=None,
    now: datetime | None = None,
) -> str:
    """Record an outcome for a job; returns the job's new status.

    `status` is 'success' or 'failed'. Explicit category and type win, otherwise the error is
    classified; the retry policy applies as for the runner. A job whose attempt runs under a
    live lease is refused unless `lease_token` is that lease's token.
    """
    now = now or timezone.now()
    if status not in (JobStatus.SUCCESS, JobStatus.FAILED):
        raise ValueError(f"status must be 'success' or 'failed', not {status!r}")
    with transaction.atomic():
        job = _job_named(job_id)
        attempt, locked = _attempt_to_settle(job, _resolve_device(device, job), lease_token, now)
        if status == JobStatus.SUCCESS:
            outcome = Outcome(True, rule="reported success")
            return record_success(attempt, now, outcome, device_locked=locked)
        failure = _failure(error, error_category, error_type)
        return record_failure(
            attempt, failure, now, retry_delay_minutes=retry_delay_minutes, device_locked=locked
        )


def _job_named(job_id: str) -> Job:
    """The job with its account and the account's device, by a query compiled once."""
    found = statements.read(_job_with_device, str(job_id))
    if not found:
        raise Job.DoesNotExist("Job matching query does not exist.")
    return found[0]


def _job_with_device(job_id: str) -> QuerySet:
    return Job.objects.select_related("account__device").filter(job_id=job_id)


def _attempt_to_settle(
    job: Job, device: Device, lease_token, now: datetime
) -> tuple[Attempt, bool]:
    """The attempt to record the outcome of, and whether it was opened here (this
    transaction then holds its device's lock)."""
    # Only a running job has a running attempt (claims set both in one transaction): the
    # common call, on a pending job, skips the lookup.
    running = None
    if job.status == JobStatus.RUNNING:
        running = job.attempt_set.running().select_related("device", "job__account").first()
    if running is not None:
        if running.lease_token != lease_token and running.lease_expires_at >= now:
            raise LeaseHeld(f"job {job.job_id} is running under a live lease on {running.device}")
        return running, False
    if job.status != JobStatus.PENDING:
        raise InvalidTransition(f"job {job.job_id} is {job.status}; only pending or running jobs")
    # In update_job_status's transaction, without a savepoint: a refused claim rolls it back.
    attempt = open_attempt(job, device, now=now, savepoint=False)
    if attempt is None:
        raise InvalidTransition(f"job {job.job_id} could not be claimed on {device}")
    return attempt, True


def _failure(error: str, category: str, error_type: str) -> Outcome:
    if error_type and not category:
        category = category_of(error_type)
    if category and is_known_pair(category, error_type):
        return Outcome.failed(error, category, error_type, "explicit")
    if category or error_type:
        raise ValueError(f"({category!r}, {error_type!r}) is not a category and type we know")
    found = classify_message(error)
    return Outcome.failed(error, found.category, found.error_type, found.rule)


def _resolve_device(device: Device | str | int | None, job: Job) -> Device:
    """The device named, or the account's phone for a legacy worker index.

    The legacy tracker's worker_id was a worker index, not a device: a number that is not the
    account's own device's key is read as such an index, never as another device's key.
    """
    if isinstance(device, Device):
        return device
    if isinstance(device, str) and not device.isdigit():
        found = Device.objects.filter(name=device).first()
        if found is None:
            raise InvalidTransition(f"job {job.job_id}: no device named {device!r}")
        return found
    if job.account.device is not None:
        return job.account.device
    raise InvalidTransition(f"job {job.job_id}: no device given and its account has none")
