"""Record how an attempt ended: the job's next state, account holds and device health.

Every write here is fenced by the attempt's lease token: `Attempt.finish` succeeds only for
the token that still owns the attempt, and the job is updated only while it carries that
token. A worker whose lease was taken over therefore records nothing.

Inside a caller's transaction (update_job_status) the writes join it without a savepoint (two
round trips each): every refusal raises and rolls the whole transaction back, except the late
cancel that settle_report recovers from, which keeps its savepoint.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from devices.backends import get_backend
from posting import lifecycle, statements
from posting.attempt_watch import watched
from posting.breaker import evaluate_after_hold
from posting.execution import build_request
from posting.models import (
    AccountStatus,
    Attempt,
    AttemptOutcome,
    ErrorCategory,
    ErrorType,
    Job,
    JobStatus,
    Outcome,
    Pass,
)
from posting.models.choices import HOLD_STATUS_OF_TYPE
from posting.notifications import notify
from retries.classification import describe_exception
from retries.policy import decide_retry
from retries.taxonomy import DEVICE_HEALTH_EXEMPT_TYPES

logger = logging.getLogger("posting.outcomes")


def settle_report(attempt: Attempt, outcome: Outcome, now: datetime) -> str | None:
    """Record a finished run of the backend. Returns the job's new status, None if refused."""
    if outcome.lease_lost:
        return None  # the sweep owns this attempt now
    if outcome.success:
        try:
            # A cancel asked after the checkpoint is found by the job's own UPDATE, rather
            # than asked first: one statement less on every successful job.
            return record_success(
                attempt, now, outcome, unless_cancel_requested=outcome.checkpoint_passed
            )
        except lifecycle.CancelRequested:
            return _cancelled_late(attempt, outcome, now)
    if outcome.checkpoint_passed and _cancel_requested(attempt):
        return _cancelled_late(attempt, outcome, now)
    if outcome.checkpoint_passed:
        return resolve_unknown_outcome(attempt, outcome, now)
    if outcome.cancelled:
        return record_cancelled(attempt, outcome, now)
    return record_failure(attempt, outcome, now)


def settle_lost_attempt(attempt: Attempt, now: datetime) -> str | None:
    """Recover an attempt whose lease expired (its worker died or hung)."""
    if not attempt.take_over_expired_lease(now, settings.LEASE_SECONDS):
        return None  # another sweep recovers it, or its worker came back in time
    lost = Outcome.failed(
        f"Worker lost: the lease expired at {attempt.lease_expires_at:%Y-%m-%d %H:%M:%S}",
        ErrorCategory.INFRASTRUCTURE,
        ErrorType.WORKER_LOST,
        "lease expired",
        checkpoint_passed=attempt.checkpoint_at is not None,
    )
    if lost.checkpoint_passed:
        return resolve_unknown_outcome(attempt, lost, now, ended=AttemptOutcome.LOST)
    return record_failure(attempt, lost, now, ended=AttemptOutcome.LOST)


def _cancelled_late(attempt: Attempt, outcome: Outcome, now: datetime) -> str | None:
    """Cancelled too late to stop the tap: the post may exist, an operator decides."""
    late = replace(
        outcome,
        success=False,
        error="Cancelled by an operator after the publishing checkpoint",
        category=ErrorCategory.UNKNOWN,
        error_type=ErrorType.NONE,
        rule="cancelled after the checkpoint",
    )
    return record_needs_review(attempt, late, now, ended=AttemptOutcome.FAILED)


def record_success(
    attempt: Attempt,
    now: datetime,
    outcome: Outcome,
    *,
    unless_cancel_requested: bool = False,
    device_locked: bool = False,
    rolled_back_whole: bool = False,
    after: statements.MessageTail | None = None,
) -> str | None:
    """The post exists. `unless_cancel_requested`: raise lifecycle.CancelRequested, recording
    nothing, if an operator asked the job to cancel meanwhile. `device_locked`: the caller's
    transaction holds the device's lock already (it opened the attempt).
    `rolled_back_whole`: the caller's transaction, if any, ends with a refusal (CancelRequested
    rolls it back whole), so no savepoint is needed to record nothing. `after`: where the
    writes are merged (PostgreSQL), sent after them in their message and loaded, unless this
    success writes more after them (a released account, a device's health); left unloaded
    then, for the caller to send after. A caller that sends it rolls its transaction back
    when this returns None (the lease was taken over: `after` ran all the same)."""
    job, account, device = attempt.job, attempt.job.account, attempt.device
    # A savepoint only where the caller recovers from the refusal inside its transaction
    # (settle_report's late cancel, when it is called within one).
    with transaction.atomic(savepoint=unless_cancel_requested and not rolled_back_whole):
        if statements.merges_writes():
            lock = None if device_locked else device.locking()
            now = max(now, timezone.now())
            if account.status == AccountStatus.RATE_LIMITED or device.success_changes_health(now):
                after = None
            if not _end_success_merged(attempt, now, outcome, lock, after, unless_cancel_requested):
                return None
        else:
            now = _serialised_now(attempt.device, now, device_locked)
            if not attempt.finish(ended=AttemptOutcome.SUCCESS, now=now, outcome=outcome):
                return None
            lifecycle.end_run(
                attempt,
                JobStatus.SUCCESS,
                now,
                unless_cancel_requested=unless_cancel_requested,
                **_success_fields(job, outcome, now),
            )
            account.record_post(now)
        if account.status == AccountStatus.RATE_LIMITED:
            account.release()
        device.record_healthy(now)
    logger.info("Job %s posted on %s (%s)", job.job_id, device.name, outcome.rule)
    return JobStatus.SUCCESS


def _success_fields(job: Job, outcome: Outcome, now: datetime) -> dict:
    return {
        "completed_at": now,
        "retry_at": None,
        "error": "",
        "error_category": ErrorCategory.NONE,
        "error_type": ErrorType.NONE,
        "post_url": outcome.post_url or job.post_url,
        "updated_at": now,
    }


def _end_success_merged(
    attempt: Attempt,
    now: datetime,
    outcome: Outcome,
    lock: tuple[str, list] | None,
    after: statements.MessageTail | None,
    unless_cancel_requested: bool,
) -> bool:
    """The attempt's end, the job's and the account's pacing in one statement, sent in one
    message with the device's lock before it and `after` after it. False: the attempt's lease
    was taken over, nothing was written (but `after`).

    The clock was read before the lock: the attempt runs until this transaction commits, and
    the database lets no second attempt run on the device meanwhile, so the device's next
    attempt is claimed (and stamped) only after taking the lock this one holds to its commit.
    """
    sql, params, attempt_fields = attempt.finishing(now=now, outcome=outcome)
    ended = lifecycle.end_run_with(
        attempt,
        JobStatus.SUCCESS,
        now,
        (sql, params),
        then=(attempt.job.account.post_recording(now),),
        lock=lock,
        after=after,
        unless_cancel_requested=unless_cancel_requested,
        **_success_fields(attempt.job, outcome, now),
    )
    if ended:
        attempt.finished(attempt_fields)
    return ended


def record_failure(
    attempt: Attempt,
    failure: Outcome,
    now: datetime,
    *,
    ended: str = AttemptOutcome.FAILED,
    retry_delay_minutes: float | None = None,
    device_locked: bool = False,
) -> str | None:
    """A failure whose post certainly did not happen: the retry policy decides.
    `device_locked`: as for record_success."""
    job, account, device = attempt.job, attempt.job.account, attempt.device
    decision = decide_retry(
        failure.category,
        failure.error_type,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        now=now,
        retry_delay_minutes=retry_delay_minutes,
    )
    status = JobStatus.PENDING if decision.retry else JobStatus.FAILED
    with transaction.atomic(savepoint=False):
        now = _serialised_now(attempt.device, now, device_locked)
        if not attempt.finish(ended=ended, now=now, outcome=failure):
            return None
        _update_job(
            attempt,
            status=status,
            retry_at=decision.retry_at,
            completed_at=None if decision.retry else now,
            error=failure.error,
            error_category=failure.category,
            error_type=failure.error_type,
        )
        held = decision.hold_account and account.hold(
            HOLD_STATUS_OF_TYPE[failure.error_type],
            reason=failure.error,
            now=now,
            until=decision.hold_until,
        )
        if held:
            # In this transaction, so concurrent holds trip the platform's breaker once.
            evaluate_after_hold(account, now)
        quarantined = _count_toward_device(device, failure, now)
    if held:
        notify("account_held", f"Account {account.handle} held: {failure.error}")
    if quarantined:
        notify("device_quarantined", f"Device {device.name} quarantined: {failure.error}")
    return status


def record_needs_review(
    attempt: Attempt, failure: Outcome, now: datetime, *, ended: str
) -> str | None:
    """The post may exist and nobody can tell: an operator decides, nothing is retried."""
    device = attempt.device
    review = replace(
        failure,
        error=f"{failure.error} — after the publishing checkpoint; the post may exist",
        category=ErrorCategory.UNKNOWN,
        error_type=ErrorType.UNVERIFIED_PUBLISH,
        rule=f"unverified after: {failure.rule}",
    )
    with transaction.atomic(savepoint=False):
        now = _serialised_now(attempt.device, now)
        if not attempt.finish(ended=ended, now=now, outcome=review):
            return None
        _update_job(
            attempt,
            status=JobStatus.NEEDS_REVIEW,
            retry_at=None,
            completed_at=now,
            error=review.error,
            error_category=review.category,
            error_type=review.error_type,
        )
        _count_toward_device(device, failure, now)
    notify("needs_review", f"Job {attempt.job.job_id} needs review: {review.error}")
    return JobStatus.NEEDS_REVIEW


def record_cancelled(attempt: Attempt, outcome: Outcome, now: datetime) -> str | None:
    """The operator's cancel reached the attempt before the publishing checkpoint."""
    with transaction.atomic(savepoint=False):
        now = _serialised_now(attempt.device, now)
        if not attempt.finish(ended=AttemptOutcome.FAILED, now=now, outcome=outcome):
            return None
        _update_job(attempt, status=JobStatus.CANCELLED, retry_at=None, completed_at=now)
    return JobStatus.CANCELLED


def resolve_unknown_outcome(
    attempt: Attempt, failure: Outcome, now: datetime, *, ended: str = AttemptOutcome.FAILED
) -> str | None:
    """After the checkpoint: ask the backend whether the post exists before anything else."""
    verdict = verify_publication(attempt)
    if verdict is True:
        posted = replace(
            failure,
            success=True,
            error="",
            category=ErrorCategory.NONE,
            error_type=ErrorType.NONE,
            rule=f"verified posted after: {failure.rule}",
            traceback="",
        )
        return record_success(attempt, now, posted)
    if verdict is False or settings.PUBLISH_AT_LEAST_ONCE:
        return record_failure(attempt, failure, now, ended=ended)
    return record_needs_review(attempt, failure, now, ended=ended)


def verify_publication(attempt: Attempt) -> bool | None:
    """True posted, False not posted, None cannot tell (no verification, or it failed).

    The phone is in use for the attempt while it is asked: the lease is kept alive (and the
    session torn down if it cannot be), so the sweep never starts a second session beside it.
    """
    backend = get_backend(attempt.device)
    verdict = watch = None
    try:
        with watched(backend, attempt, timeout=settings.JOB_TIMEOUT) as watch:
            verdict = backend.was_published(build_request(attempt.job, attempt))
    except Exception as exc:
        logger.warning("Verifying job %s failed: %s", attempt.job.job_id, describe_exception(exc))
    finally:
        _close_backend(backend)
    if watch is None or watch.lease_lost or watch.timed_out:
        return None  # the answer came from a session that no longer owned the phone
    return verdict


def _close_backend(backend) -> None:
    try:
        backend.close()
    except Exception as exc:
        logger.warning("Closing the backend after verification failed: %s", exc)


def finish_passes(now: datetime) -> list[int]:
    """Mark passes whose jobs all ended as finished, and tell operators (once each).

    Called when a device runs out of work and by the sweep, not after every job.
    """
    finished = []
    for number in Pass.objects.filter(finished_at__isnull=True).values_list("number", flat=True):
        if Pass.finish_if_done(number, now):
            counts = Job.objects.filter(pass_number=number).counts_by_status()
            summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
            notify("pass_finished", f"Pass {number} finished: {summary}")
            finished.append(number)
    return finished


def _cancel_requested(attempt: Attempt) -> bool:
    return Job.objects.filter(pk=attempt.job_id, cancel_requested=True).exists()


def _serialised_now(device, now: datetime, locked: bool = False) -> datetime:
    """Lock the device's attempts, then read the clock: an attempt is never stamped as
    finishing after the start of the device's next one (a sweep's `now` may be seconds old).
    `locked`: the caller's transaction holds the lock already (taken twice, it costs a round
    trip and changes nothing)."""
    if not locked:
        device.lock_for_update()
    return max(now, timezone.now())


def _update_job(attempt: Attempt, *, status: str, **fields) -> None:
    fields.setdefault("updated_at", fields.get("completed_at") or attempt.finished_at)
    lifecycle.end_run(attempt, status, attempt.finished_at, **fields)


def _count_toward_device(device, failure: Outcome, now: datetime) -> bool:
    """Infrastructure failures build the device's streak; others show the phone works."""
    if failure.category != ErrorCategory.INFRASTRUCTURE:
        device.record_seen(now)
        return False
    if failure.error_type in DEVICE_HEALTH_EXEMPT_TYPES:
        return False
    return device.record_infrastructure_failure(now, detail=failure.error)
