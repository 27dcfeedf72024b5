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
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from devices.models import Device
from posting.claiming import claim_next_job, next_due_at
from posting.execution import run_attempt
from posting.models import ClusterHeartbeat, DeviceQueue
from posting.outcomes import finish_passes, settle_report
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
        deadline = time.monotonic() + self.budget
        while time.monotonic() < deadline:
            if not self._extend_lease():
                return "device lease lost"
            if self.run_one_attempt():
                summary.attempts += 1
                if self._cluster_stopping():
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
        """Claim, run and record one job. False when nothing was claimable."""
        attempt = claim_next_job(self.device, now=timezone.now(), cluster=self.cluster)
        if attempt is None:
            return False
        self.device = attempt.device  # as freshly read by the claim
        report = run_attempt(attempt.job, self.device, attempt, extra_beat=self._extend_lease)
        settle_report(attempt, report, timezone.now())
        return True

    def _cluster_stopping(self) -> bool:
        """Asked of the database at most once a second, not after every job."""
        if time.monotonic() < self._stop_checked_at + 1:
            return False
        self._stop_checked_at = time.monotonic()
        return ClusterHeartbeat.is_stopping(self.cluster)

    def _seconds_until_due(self) -> float | None:
        now = timezone.now()
        due = next_due_at(self.device, now)
        return None if due is None else (due - now).total_seconds()

    def _extend_lease(self, now=None) -> bool:
        """Extend the device lease once a third of it has passed (not on every job)."""
        if time.monotonic() < self._lease_extended_at + settings.LEASE_SECONDS / 3:
            return True
        extended = DeviceQueue.extend_runner_lease(
            self.device.pk, self.token, now or timezone.now(), settings.LEASE_SECONDS
        )
        self._lease_extended_at = time.monotonic()
        return extended
