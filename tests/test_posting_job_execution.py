"""execute_posting_job and update_job_status: the original task's contract."""

import inspect

import pytest

from posting.execution import PostingResult, execute_posting_job
from posting.models import Attempt, ErrorCategory, JobStatus
from posting.tracking import LeaseHeld, update_job_status
from tests.factories import NOW, claim, make_account, make_device, make_job, refreshed

pytestmark = pytest.mark.django_db


def scripted_job(outcome: str, job_id: str = "J1"):
    device = make_device(capabilities={"script": {job_id: [outcome]}})
    job = make_job(job_id, account=make_account("@acct1", device=device))
    claim(job, device)
    return refreshed(job), device


def test_execute_posting_job_returns_a_4_tuple_that_unpacks():
    job, device = scripted_job("success")
    success, error, error_category, error_type = execute_posting_job(job, device)
    assert (success, error, error_category, error_type) == (True, "", "", "")
    assert list(inspect.signature(execute_posting_job).parameters) == ["job", "device"]
    assert PostingResult._fields == ("success", "error", "error_category", "error_type")


@pytest.mark.parametrize(
    ("outcome", "error_prefix", "category", "error_type"),
    [
        ("adb_timeout", "TimeoutError: ", "infrastructure", "adb_timeout"),
        ("connection_dropped", "ConnectionError: ", "infrastructure", "connection_dropped"),
        (
            "verification_race",
            "Pre-post verification failed: ",
            "infrastructure",
            "verification_race",
        ),
        ("suspended", "This account was suspended", "account", "suspended"),
        ("captcha", "Captcha required", "account", "captcha"),
        ("loggedout", "You have been logged out", "account", "loggedout"),
        ("claude_stuck", "Post returned False", "infrastructure", "claude_stuck"),
        ("unknown", "RuntimeError: Unexpected dialog", "unknown", ""),
    ],
)
def test_each_failure_is_classified_as_the_original_task_maps_it(
    outcome, error_prefix, category, error_type
):
    job, device = scripted_job(outcome)
    result = execute_posting_job(job, device)
    assert not result.success
    assert result.error.startswith(error_prefix)
    assert (result.error_category, result.error_type) == (category, error_type)


def test_each_failure_is_logged_with_its_category_and_type(caplog):
    job, device = scripted_job("adb_timeout")
    with caplog.at_level("WARNING", logger="posting.execution"):
        execute_posting_job(job, device)
    assert (
        "Job J1 failed: TimeoutError: adb shell input tap timed out after 20 s "
        "(category: infrastructure, type: adb_timeout)"
    ) in caplog.messages


def test_execute_posting_job_writes_no_job_state():
    job, device = scripted_job("captcha")
    execute_posting_job(job, device)
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert Attempt.objects.get().outcome == "running"


def test_update_job_status_keeps_an_explicit_category_and_type():
    device = make_device()
    make_job("test1", account=make_account("test_account", device=device))
    update_job_status(
        "test1",
        "failed",
        0,
        error="TimeoutError: ADB timeout",
        error_category="infrastructure",
        error_type="adb_timeout",
        now=NOW,
    )
    job = make_job.__globals__["Job"].objects.get(job_id="test1")
    assert job.error_category == "infrastructure"
    assert job.error_type == "adb_timeout"
    assert job.status == JobStatus.PENDING  # retried with backoff
    assert job.retry_at > NOW


def test_update_job_status_classifies_when_no_category_is_given():
    device = make_device()
    job = make_job("test2", account=make_account(device=device))
    status = update_job_status("test2", "failed", device, error="Captcha required", now=NOW)
    job.refresh_from_db()
    assert status == JobStatus.FAILED
    assert (job.error_category, job.error_type) == ("account", "captcha")
    assert job.account.status == "captcha"


def test_update_job_status_success_clears_the_error():
    device = make_device()
    job = make_job("test3", account=make_account(device=device))
    update_job_status("test3", "success", device.name, now=NOW)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCESS
    assert (job.error, job.error_category, job.error_type) == ("", "", "")
    assert job.attempt_set.get().outcome == "success"


def test_update_job_status_honours_the_callers_retry_delay():
    device = make_device()
    job = make_job("test4", account=make_account(device=device))
    update_job_status(
        "test4", "failed", device, error="ConnectionError: x", retry_delay_minutes=7, now=NOW
    )
    job.refresh_from_db()
    assert (job.retry_at - NOW).total_seconds() == 7 * 60


def test_update_job_status_refuses_a_job_running_under_a_live_lease():
    device = make_device()
    job = make_job("test5", account=make_account(device=device))
    attempt = claim(job, device)
    with pytest.raises(LeaseHeld):
        update_job_status("test5", "success", device, now=NOW)
    assert update_job_status("test5", "success", device, lease_token=attempt.lease_token, now=NOW)
    assert refreshed(job).status == JobStatus.SUCCESS


def test_update_job_status_refuses_an_unknown_category_and_type_pair():
    device = make_device()
    make_job("test6", account=make_account(device=device))
    with pytest.raises(ValueError, match="not a category and type"):
        update_job_status(
            "test6", "failed", device, error="x", error_category="account", error_type="adb_timeout"
        )


def test_update_job_status_derives_the_category_of_a_bare_type():
    device = make_device()
    job = make_job("test7", account=make_account(device=device))
    update_job_status("test7", "failed", device, error="x", error_type="media_missing", now=NOW)
    assert refreshed(job).error_category == ErrorCategory.CONTENT
