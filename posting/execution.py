"""Run the backend for a claimed attempt and classify what happened. Writes no job state.

`execute_posting_job(job, device)` is the public entry point of the original task and returns
the 4-tuple `PostingResult`; the runner uses `run_attempt`, which also reports the matched
rule, the log, whether the publishing checkpoint was passed and whether the deadline fired.
"""

from __future__ import annotations

import contextlib
import logging
import traceback as tb
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from devices.backends import DeviceBackend, PostRequest, PrePostVerificationError, get_backend
from devices.models import Device
from posting.attempt_watch import watched
from posting.models import Attempt, AttemptCancelled, ErrorCategory, ErrorType, Job, LeaseLost
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


SUCCESS = PostingResult(True, "", "", "")


@dataclass
class AttemptReport:
    result: PostingResult
    matched_rule: str = ""
    post_url: str = ""
    traceback: str = ""
    checkpoint_reached: bool = False
    timed_out: bool = False
    lease_lost: bool = False
    cancelled: bool = False
    log_lines: list[str] = field(default_factory=list)
    evidence: dict[str, str] = field(default_factory=dict)

    @property
    def log(self) -> str:
        return "\n".join(self.log_lines)


class AttemptHooks:
    """What a backend may call back: the publishing checkpoint and the attempt's log."""

    def __init__(self, attempt: Attempt | None, clock: Callable[[], datetime] = timezone.now):
        self.attempt = attempt
        self.clock = clock
        self.lines: list[str] = []
        self.checkpoint_reached = False
        self.evidence: dict[str, str] = {}

    def log(self, message: str) -> None:
        self.lines.append(f"{self.clock().strftime('%H:%M:%S.%f')[:-3]} {message}")

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
    return run_attempt(job, device, attempt).result


def run_attempt(
    job: Job,
    device: Device,
    attempt: Attempt | None,
    *,
    timeout: float | None = None,
    extra_beat: Callable[[datetime], bool] | None = None,
) -> AttemptReport:
    """Run one attempt to its end and classify it; see the module docstring."""
    backend = get_backend(device)
    hooks = AttemptHooks(attempt)
    hooks.log(f"attempt {attempt.number if attempt else '-'} of {job.job_id} on {device.name}")
    try:
        with watched(
            backend, attempt, timeout=timeout or settings.JOB_TIMEOUT, extra_beat=extra_beat
        ) as watch:
            report = _post(backend, build_request(job, attempt), hooks, watch)
    finally:
        _close_quietly(backend, hooks)
    report.checkpoint_reached = hooks.checkpoint_reached
    report.timed_out = watch.timed_out
    report.log_lines = hooks.lines
    report.evidence = hooks.evidence
    _log_outcome(job, report)
    return report


def _post(backend, request, hooks, watch) -> AttemptReport:
    try:
        if backend.post(request, hooks):
            return AttemptReport(SUCCESS, matched_rule="success", post_url=backend.post_url)
        message = backend.last_error_message or "Post returned False"
        return _failure(message, classify_returned_false(message))
    except PrePostVerificationError as exc:
        return _failure(
            f"Pre-post verification failed: {exc}",
            Classification(
                ErrorCategory.INFRASTRUCTURE, ErrorType.VERIFICATION_RACE, "pre-post verification"
            ),
        )
    except LeaseLost as exc:
        return _failure(str(exc), _worker_lost(), lease_lost=True)
    except AttemptCancelled as exc:
        return _failure(
            str(exc), Classification(ErrorCategory.UNKNOWN, "", "cancelled"), cancelled=True
        )
    except Exception as exc:
        trace_from_server = server_stacktrace(exc)
        if trace_from_server:  # for whoever debugs the flow; the job's error stays readable
            hooks.log(f"the Appium server's stack trace:\n{trace_from_server}")
        if watch.timed_out:
            return _failure(
                f"Job timed out after {watch.timeout:g} s ({describe_exception(exc)})",
                Classification(ErrorCategory.INFRASTRUCTURE, ErrorType.JOB_TIMEOUT, "deadline"),
            )
        if watch.lease_lost:
            return _failure(describe_exception(exc), _worker_lost(), lease_lost=True)
        found = classify_exception(exc)
        # Unrecognised exceptions are bugs or surprises: keep the traceback for the operator.
        trace = tb.format_exc() if found.category == ErrorCategory.UNKNOWN else ""
        return _failure(describe_exception(exc), found, traceback=trace)


def _failure(message: str, found: Classification, **flags) -> AttemptReport:
    result = PostingResult(False, message, found.category, found.error_type)
    return AttemptReport(result, matched_rule=found.rule, **flags)


def _worker_lost() -> Classification:
    return Classification(ErrorCategory.INFRASTRUCTURE, ErrorType.WORKER_LOST, "lease lost")


def _close_quietly(backend: DeviceBackend, hooks: AttemptHooks) -> None:
    try:
        backend.close()
    except Exception as exc:  # a failed teardown must not hide the attempt's own outcome
        hooks.log(f"closing the backend failed: {describe_exception(exc)}")


def _log_outcome(job: Job, report: AttemptReport) -> None:
    result = report.result
    if result.success:
        logger.info("Job %s completed successfully", job.job_id)
        return
    level = logging.ERROR if report.traceback else logging.WARNING
    logger.log(
        level,
        "Job %s failed: %s (category: %s, type: %s)",
        job.job_id,
        result.error,
        result.error_category,
        result.error_type,
    )
