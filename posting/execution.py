"""Run the backend for a claimed attempt and classify what happened. Writes no job state.

`run_attempt` returns one `Outcome` (posting.models.attempt), built once from what the backend
did: success, or category and type with the matched rule, and whether the checkpoint was
passed, the deadline fired or the lease was lost, with the log and the evidence.
`execute_posting_job(job, device)`, the original task's entry point, is a thin adapter that
returns the 4-tuple `PostingResult`.
"""

from __future__ import annotations

import contextlib
import logging
import traceback as tb
from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from devices.backends import DeviceBackend, PostRequest, get_backend
from devices.models import Device
from posting.attempt_watch import watched
from posting.models import (
    Attempt,
    AttemptCancelled,
    ErrorCategory,
    ErrorType,
    Job,
    LeaseLost,
    Outcome,
)
from posting.models.attempt import EVIDENCE_KINDS
from retries.classification import (
    Classification,
    classify_exception,
    classify_returned_false,
    describe_exception,
    server_stacktrace,
)

logger = logging.getLogger("posting.execution")


class PostingResult(NamedTuple):
    success: bool
    error: str
    error_category: str
    error_type: str


class _Ending(NamedTuple):
    """How the backend's call ended, before the watch's and the hooks' facts are added."""

    success: bool
    error: str = ""
    found: Classification | None = None
    post_url: str = ""
    traceback: str = ""
    lease_lost: bool = False
    cancelled: bool = False


class AttemptHooks:
    """What a backend may call back: the publishing checkpoint and the attempt's log."""

    def __init__(self, attempt: Attempt | None, clock: Callable[[], datetime] = timezone.now):
        self.attempt = attempt
        self.clock = clock
        self.lines: list[str] = []
        self.checkpoint_reached = False
        self.evidence: dict[str, str] = {}

    def log(self, message: str) -> None:
        # HH:MM:SS.mmm, cut from isoformat (strftime costs several times more, per line).
        self.lines.append(f"{self.clock().isoformat(timespec='milliseconds')[11:23]} {message}")

    def save_evidence(self, kind: str, extension: str, content: bytes) -> None:
        """Write a screenshot, page source or logcat under MEDIA_ROOT; the attempt links it."""
        if kind not in EVIDENCE_KINDS:
            raise ValueError(f"unknown evidence kind {kind!r}")
        owner = f"attempt-{self.attempt.pk}" if self.attempt else "detached"
        name = f"evidence/{owner}/{kind}-{self.clock():%Y%m%dT%H%M%S%f}.{extension}"
        try:
            self.evidence[kind] = default_storage.save(name, ContentFile(content))
        except Exception:
            # A full or failing disk leaves a truncated file behind: remove it, then report.
            with contextlib.suppress(Exception):
                default_storage.delete(name)
            raise
        self.log(f"saved {kind} ({len(content)} bytes)")

    def checkpoint(self) -> None:
        if self.attempt is not None:
            self.attempt.mark_checkpoint(self.clock())
        self.checkpoint_reached = True
        self.log("publishing checkpoint committed")


def build_request(job: Job, attempt: Attempt | None) -> PostRequest:
    return PostRequest(
        job_id=job.job_id,
        account_handle=job.account.handle,
        video_path=job.video_path,
        caption=job.caption,
        attempt_number=attempt.number if attempt else max(job.attempts, 1),
        platform=job.account.platform,
    )


def execute_posting_job(job: Job, device: Device) -> PostingResult:
    """Run the backend for the job's claimed attempt; (success, error, category, type)."""
    attempt = job.attempt_set.running().first()
    return PostingResult(*run_attempt(job, device, attempt).as_result())


def run_attempt(
    job: Job,
    device: Device,
    attempt: Attempt | None,
    *,
    timeout: float | None = None,
    extra_beat: Callable[[datetime], bool] | None = None,
) -> Outcome:
    """Run one attempt to its end and classify it; see the module docstring."""
    backend = get_backend(device)
    hooks = AttemptHooks(attempt)
    hooks.log(f"attempt {attempt.number if attempt else '-'} of {job.job_id} on {device.name}")
    try:
        with watched(
            backend, attempt, timeout=timeout or settings.JOB_TIMEOUT, extra_beat=extra_beat
        ) as watch:
            ending = _post(backend, build_request(job, attempt), hooks, watch)
    finally:
        _close_quietly(backend, hooks)
    found = ending.found or Classification("", "", "success")
    outcome = Outcome(
        success=ending.success,
        error=ending.error,
        category=found.category,
        error_type=found.error_type,
        rule=found.rule,
        post_url=ending.post_url,
        traceback=ending.traceback,
        checkpoint_passed=hooks.checkpoint_reached,
        timed_out=watch.timed_out,
        lease_lost=ending.lease_lost,
        cancelled=ending.cancelled,
        log="\n".join(hooks.lines),
        evidence=dict(hooks.evidence),
    )
    _log_outcome(job, outcome)
    return outcome


def _post(backend, request, hooks, watch) -> _Ending:
    """Call the backend; its exceptions and detectors carry their type, messages are read by
    pattern only for legacy text and exceptions nobody typed."""
    try:
        if backend.post(request, hooks):
            return _Ending(True, post_url=backend.post_url)
        message = backend.last_error_message or "Post returned False"
        return _Ending(False, message, classify_returned_false(message, backend.last_error_type))
    except LeaseLost as exc:
        return _Ending(False, str(exc), _worker_lost(), lease_lost=True)
    except AttemptCancelled as exc:
        found = Classification(ErrorCategory.UNKNOWN, "", "cancelled")
        return _Ending(False, str(exc), found, cancelled=True)
    except Exception as exc:
        trace_from_server = server_stacktrace(exc)
        if trace_from_server:  # for whoever debugs the flow; the job's error stays readable
            hooks.log(f"the Appium server's stack trace:\n{trace_from_server}")
        if watch.timed_out:
            found = Classification(ErrorCategory.INFRASTRUCTURE, ErrorType.JOB_TIMEOUT, "deadline")
            message = f"Job timed out after {watch.timeout:g} s ({describe_exception(exc)})"
            return _Ending(False, message, found)
        if watch.lease_lost:
            return _Ending(False, describe_exception(exc), _worker_lost(), lease_lost=True)
        found = classify_exception(exc)
        # Unrecognised exceptions are bugs or surprises: keep the traceback for the operator.
        trace = tb.format_exc() if found.category == ErrorCategory.UNKNOWN else ""
        return _Ending(False, describe_exception(exc), found, traceback=trace)


def _worker_lost() -> Classification:
    return Classification(ErrorCategory.INFRASTRUCTURE, ErrorType.WORKER_LOST, "lease lost")


def _close_quietly(backend: DeviceBackend, hooks: AttemptHooks) -> None:
    try:
        backend.close()
    except Exception as exc:  # a failed teardown must not hide the attempt's own outcome
        hooks.log(f"closing the backend failed: {describe_exception(exc)}")


def _log_outcome(job: Job, outcome: Outcome) -> None:
    if outcome.success:
        logger.info("Job %s completed successfully", job.job_id)
        return
    level = logging.ERROR if outcome.traceback else logging.WARNING
    logger.log(
        level,
        "Job %s failed: %s (category: %s, type: %s)",
        job.job_id,
        outcome.error,
        outcome.category,
        outcome.error_type,
    )
