"""The device task's loop: run a device's eligible jobs one after another, then hand over.

One runner per device at a time (the device lease); it claims a job, runs it, records the
outcome, and claims the next at once, so a device never waits for a broker round trip between
jobs. It waits briefly for a job due soon, stops at its time budget (below django-q's
timeout), and re-enqueues itself when work remains.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction
from django.utils import timezone

from devices.models import Device
from posting import lifecycle, statements
from posting.claiming import (
    ClaimInMessage,
    ClaimNotConfirmed,
    claim_next_job,
    claim_next_job_in_transaction,
    next_due_at,
)
from posting.execution import run_attempt
from posting.models import Attempt, ClusterHeartbeat, DeviceQueue, Outcome
from posting.outcomes import finish_passes, record_success, settle_report
from posting.wakeups import wake_device

logger = logging.getLogger("posting.runner")


@dataclass
class RunSummary:
    device: str
    started: bool
    attempts: int = 0
    stopped_because: str = ""

    def __str__(self) -> str:
        if not self.started:
            return f"{self.device}: another runner holds the device"
        return f"{self.device}: {self.attempts} attempts, stopped: {self.stopped_because}"


class DeviceRunner:
    def __init__(
        self,
        device: Device,
        *,
        cluster: str = "",
        budget: float | None = None,
        idle_wait: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.device = device
        self.cluster = cluster
        self.budget = settings.DEVICE_TASK_BUDGET if budget is None else budget
        self.idle_wait = settings.DEVICE_IDLE_WAIT if idle_wait is None else idle_wait
        self.sleep = sleep
        self.token = None
        self._lease_extended_at = time.monotonic()
        self._stop_checked_at = 0.0
        self._stopping = False
        self._lease_lost = False
        # In the loop: its deadline, and the attempt claimed with the last one's record.
        self._deadline: float | None = None
        self._next: Attempt | None = None

    def run(self) -> RunSummary:
        """Drive the device until its work runs out or the budget is spent."""
        summary = RunSummary(self.device.name, started=False)
        self.token = DeviceQueue.acquire_runner_lease(
            self.device.pk, timezone.now(), settings.LEASE_SECONDS
        )
        self._lease_extended_at = time.monotonic()
        if self.token is None:
            return summary
        summary.started = True
        try:
            summary.stopped_because = self._loop(summary)
        except Exception as exc:
            # Fail safe: stop taking work (the sweep wakes the device again), never crash the
            # worker or go on after a query whose answer is unknown.
            log = logger.warning if isinstance(exc, DatabaseError) else logger.exception
            log("Runner of %s stopped by an error: %s", self.device.name, exc)
            summary.stopped_because = f"error: {exc}"
            close_old_connections()
        self._hand_over()
        return summary

    def _hand_over(self) -> None:
        """Release the device lease and look once more for work due soon."""
        try:
            DeviceQueue.release_runner_lease(self.device.pk, self.token)
            # A wake-up that arrived while we held the lease was dropped: look once more.
            due = next_due_at(self.device, timezone.now())
            if due is not None and (due - timezone.now()).total_seconds() <= self.idle_wait:
                wake_device(self.device)
        except Exception as exc:
            # The lease then simply expires; the sweep wakes the device.
            logger.warning("Runner of %s could not hand over: %s", self.device.name, exc)
            close_old_connections()

    def _loop(self, summary: RunSummary) -> str:
        deadline = self._deadline = time.monotonic() + self.budget
        # An attempt claimed with the last one's record is run whatever the clock says: it
        # was claimed only while the budget, the lease and the cluster allowed another.
        while self._next is not None or time.monotonic() < deadline:
            if self._next is None and not self._extend_lease():
                return "device lease lost"
            if self.run_one_attempt():
                summary.attempts += 1
                if self._next is None and self._cluster_stopping():
                    return "cluster stopping"
                continue
            wait = self._seconds_until_due()
            if wait is None or wait > self.idle_wait:
                finish_passes(timezone.now())
                return "no work due"
            if wait > deadline - time.monotonic():
                return "budget spent"
            self.sleep(max(wait, 0.05))
        return "budget spent"

    def run_one_attempt(self) -> bool:
        """Claim, run and record one job (in the loop, the job may have been claimed with the
        last one's record, and the next be claimed with this one's). False when nothing was
        claimable."""
        attempt, self._next = self._next, None
        if attempt is None:
            attempt = claim_next_job(self.device, now=timezone.now(), cluster=self.cluster)
        if attempt is None:
            return False
        self.device = attempt.device  # as freshly read by the claim
        report = run_attempt(attempt.job, self.device, attempt, extra_beat=self._extend_lease)
        if self._claims_with_record(report):
            self._next = settle_then_claim(attempt, report, timezone.now(), self.cluster)
        else:
            settle_report(attempt, report, timezone.now())
        return True

    def _claims_with_record(self, report: Outcome) -> bool:
        """Whether to claim the next job in the transaction that records this success: where
        a round trip costs (PostgreSQL), in the loop, while the budget lasts, the device lease
        holds and the cluster is not stopping (a job claimed is a job run). A failed ask is
        "cannot tell": the report is recorded alone, and the loop asks again."""
        if not (
            report.success
            and not report.lease_lost
            and self._deadline is not None
            and statements.merges_writes()
            and time.monotonic() < self._deadline
        ):
            return False
        try:
            return self._extend_lease() and not self._cluster_stopping()
        except DatabaseError as exc:
            logger.warning("Runner of %s: %s; recording its job alone", self.device.name, exc)
            return False

    def _cluster_stopping(self) -> bool:
        """Asked of the database at most once a second, not after every job; once stopping,
        it stays so."""
        if self._stopping or time.monotonic() < self._stop_checked_at + 1:
            return self._stopping
        # Stamped after the answer: a failed ask is asked again, not read as "not stopping".
        self._stopping = ClusterHeartbeat.is_stopping(self.cluster)
        self._stop_checked_at = time.monotonic()
        return self._stopping

    def _seconds_until_due(self) -> float | None:
        now = timezone.now()
        due = next_due_at(self.device, now)
        return None if due is None else (due - now).total_seconds()

    def _extend_lease(self, now=None) -> bool:
        """Extend the device lease once a third of it has passed (not on every job). Once
        lost, it stays lost: the next ask within the third must not read as extended (it is
        asked after each success and at the top of the loop, and by the attempt's watch)."""
        if self._lease_lost:
            return False
        if time.monotonic() < self._lease_extended_at + settings.LEASE_SECONDS / 3:
            return True
        extended = DeviceQueue.extend_runner_lease(
            self.device.pk, self.token, now or timezone.now(), settings.LEASE_SECONDS
        )
        self._lease_extended_at = time.monotonic()
        self._lease_lost = not extended
        return extended


def settle_then_claim(attempt: Attempt, report: Outcome, now, cluster: str = "") -> Attempt | None:
    """Record a successful attempt and claim the device's next job in one transaction: on
    PostgreSQL six round trips fewer per job (one BEGIN, COMMIT and device lock for both,
    and the lock, the claim and the accounts' read sent with the success's writes).
    The next job's attempt, or None (nothing claimable, or the record was refused).

    Whatever refuses the claim never costs the record: a claim whose attempt the database
    refuses (IntegrityError) or any other failed statement, or a late cancel of this job
    (lifecycle.CancelRequested, found by the job's own UPDATE), rolls the whole transaction
    back, and the report is then recorded alone, as settle_report always does (and fails as
    it would, if the database is gone).
    """
    claimed: Attempt | None = None
    block_ended = False
    in_message = ClaimInMessage(attempt.device, cluster)
    try:
        with transaction.atomic():
            status = record_success(
                attempt,
                now,
                report,
                unless_cancel_requested=report.checkpoint_passed,
                rolled_back_whole=True,
                after=in_message,
            )
            if status is None:
                # The lease was taken over: nothing recorded, and a claim sent with it undone.
                transaction.set_rollback(True)
                return None
            if in_message.loaded:
                claimed = in_message.attempt()
            else:  # the success wrote after its message: the claim must see those writes
                claimed = claim_next_job_in_transaction(
                    attempt.device, now=timezone.now(), cluster=cluster
                )
            block_ended = True
    except Exception as exc:
        if block_ended:
            # The COMMIT, or a callback run after it (a device's wake-up), failed.
            return _claimed_if_committed(attempt, report, now, claimed, exc)
        logger.warning("Recording %s alone, no claim with it: %s", attempt.job.job_id, exc)
        # The instances as the rolled-back transaction found them (a release or a health
        # change written there would otherwise be taken as done).
        attempt.device.refresh_from_db()
        attempt.job.account.refresh_from_db()
        settle_report(attempt, report, now)
        if not isinstance(exc, DatabaseError | lifecycle.CancelRequested | ClaimNotConfirmed):
            raise  # a fault of the claim's code: the success is recorded, the runner stops
        return None
    return claimed


def _claimed_if_committed(
    attempt: Attempt, report: Outcome, now, claimed: Attempt | None, error: Exception
) -> Attempt | None:
    """After an error at or after the COMMIT: the claimed attempt if the transaction did
    commit (a job claimed is a job run), else the success recorded alone. When the database
    cannot say, nothing is run: a claimed job's lease ends and the sweep recovers it."""
    logger.warning("Recording %s with the next claim: %s", attempt.job.job_id, error)
    if claimed is None:
        settle_report(attempt, report, now)  # records nothing if the record committed
        return None
    try:
        committed = Attempt.objects.filter(pk=claimed.pk).exists()
    except DatabaseError:
        logger.warning("Cannot tell whether %s was claimed: not run here", claimed.job.job_id)
        return None
    if committed:
        return claimed
    settle_report(attempt, report, now)
    return None
