"""The publishing checkpoint: before it a plain failure, after it verify before anything else."""

import pytest
from django.utils import timezone

from posting.execution import run_attempt
from posting.models import AttemptOutcome, JobStatus
from posting.outcomes import settle_report
from tests.factories import claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def run_scripted(outcomes, timeout=None, **caps):
    device = make_device(capabilities={"script": {"J1": outcomes}, **caps})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    report = run_attempt(refreshed(job), device, attempt, timeout=timeout)
    status = settle_report(attempt, report, timezone.now())
    return status, refreshed(job), refreshed(attempt), report


def test_a_failure_before_the_checkpoint_is_a_plain_retryable_failure():
    status, job, attempt, report = run_scripted(["connection_dropped"])
    assert not report.checkpoint_passed
    assert attempt.checkpoint_at is None
    assert status == JobStatus.PENDING
    assert job.error_type == "connection_dropped"


def test_the_checkpoint_is_committed_before_the_publish():
    status, job, attempt, report = run_scripted(["success"])
    assert status == JobStatus.SUCCESS
    assert attempt.checkpoint_at is not None
    assert job.post_url.startswith("https://example.invalid/")
    assert "publishing checkpoint committed" in attempt.log


def test_after_the_checkpoint_a_post_that_exists_is_success_without_a_second_publish():
    from devices.models import PublishRecord

    status, job, attempt, report = run_scripted(["hang_after_publish"], timeout=0.3)
    assert report.timed_out
    assert status == JobStatus.SUCCESS
    assert attempt.outcome == AttemptOutcome.SUCCESS
    assert attempt.matched_rule == "verified posted after: deadline"
    assert PublishRecord.objects.filter(job_id="J1").count() == 1


def test_after_the_checkpoint_a_post_that_is_absent_follows_the_retry_policy():
    status, job, attempt, report = run_scripted(["fail_after_checkpoint"])
    assert report.checkpoint_passed
    assert status == JobStatus.PENDING
    assert attempt.outcome == AttemptOutcome.FAILED
    assert job.error_type == "connection_dropped"


def test_after_the_checkpoint_an_unverifiable_outcome_waits_for_review():
    status, job, attempt, _ = run_scripted(["fail_after_checkpoint"], verifiable=False)
    assert status == JobStatus.NEEDS_REVIEW
    assert (job.error_category, job.error_type) == ("unknown", "unverified_publish")
    assert attempt.error_type == "unverified_publish"
    assert "the post may exist" in job.error


def test_at_least_once_mode_retries_an_unverifiable_outcome(settings):
    settings.PUBLISH_AT_LEAST_ONCE = True
    status, job, _, _ = run_scripted(["fail_after_checkpoint"], verifiable=False)
    assert status == JobStatus.PENDING
    assert job.error_type == "connection_dropped"


def test_a_cancel_that_arrives_after_the_checkpoint_sends_the_job_to_review():
    from posting.models import Job, Outcome

    device = make_device()
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    attempt.mark_checkpoint(timezone.now())
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)  # the operator, too late
    report = Outcome(True, checkpoint_passed=True)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.NEEDS_REVIEW
    job = refreshed(job)
    assert "after the publishing checkpoint" in job.error
    assert (job.error_category, job.error_type) == ("unknown", "unverified_publish")


def test_a_cancel_before_the_checkpoint_stops_the_job_before_the_tap():
    from devices.models import PublishRecord
    from posting.models import Job

    device = make_device(capabilities={"script": {"J1": ["success"]}})
    job = make_job("J1", account=make_account(device=device))
    attempt = claim(job, device)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    report = run_attempt(refreshed(job), device, attempt)
    assert settle_report(attempt, report, timezone.now()) == JobStatus.CANCELLED
    assert not PublishRecord.objects.exists()


def test_a_success_refused_for_a_late_cancel_leaves_nothing_of_the_success_behind():
    from posting.models import Job, Outcome, PassEntry

    device = make_device()
    account = make_account(device=device)
    job = make_job("J1", account=account)
    attempt = claim(job, device)
    attempt.mark_checkpoint(timezone.now())
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    settle_report(attempt, Outcome(True, checkpoint_passed=True), timezone.now())
    attempt.refresh_from_db()
    account.refresh_from_db()
    assert attempt.outcome == "failed"
    assert attempt.error_type == "unverified_publish"
    assert account.last_posted_at is None
    assert PassEntry.objects.get(job=job, pass_number=1).outcome == JobStatus.NEEDS_REVIEW
