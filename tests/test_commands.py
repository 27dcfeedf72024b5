"""progress, requeue_failures and register_device."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from devices.models import Device
from posting.models import Attempt, Job, JobStatus, Pass
from tests.factories import claim, make_account, make_device, make_job, make_review_job, refreshed
from tests.factories import make_failed_job as failed

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_progress_counts_by_pass_status_category_and_type():
    account = make_account(device=make_device())
    failed("A", account, "infrastructure", "adb_timeout")
    failed("B", account, "account", "captcha")
    make_job("C", account=account)
    counts = json.loads(run("progress", "--json"))
    assert counts["total"] == 3
    assert counts["passes"]["1"]["by_status"] == {"failed": 2, "pending": 1}
    assert counts["passes"]["1"]["failures"] == {
        "account/captcha": 1,
        "infrastructure/adb_timeout": 1,
    }
    assert "Pass 1: 3 jobs" in run("progress")


def test_requeue_failures_moves_only_failed_jobs_of_the_category_into_a_new_pass():
    device = make_device()
    account = make_account(device=device)
    infra = failed("A", account, "infrastructure", "adb_timeout")
    claim(make_job("R", account=account))  # a running job keeps its attempt
    Attempt.objects.update(outcome="failed")
    captcha = failed("B", account, "account", "captcha")
    review = make_review_job(
        "C", account, error_category="infrastructure", error_type="worker_lost"
    )
    output = run("requeue_failures")
    assert "adb_timeout: 1" in output
    assert "moved 1 job into pass 2" in output
    infra = refreshed(infra)
    assert (infra.status, infra.pass_number, infra.attempts) == ("pending", 2, 0)
    assert refreshed(captcha).status == JobStatus.FAILED
    assert refreshed(review).status == JobStatus.NEEDS_REVIEW
    new_pass = Pass.objects.get(number=2)
    assert new_pass.job_count == 1
    assert new_pass.filter == {"source": "requeue_failures", "error_category": "infrastructure"}


def test_requeue_failures_dry_run_moves_nothing():
    failed("A", make_account(device=make_device()), "infrastructure", "connection_dropped")
    assert "would move 1 job into pass 2" in run("requeue_failures", "--dry-run")
    assert Job.objects.get().status == JobStatus.FAILED
    assert not Pass.objects.filter(number=2).exists()


def test_requeue_failures_with_nothing_to_move_says_so():
    with pytest.raises(CommandError, match="no failed infrastructure jobs"):
        run("requeue_failures")


def test_register_device_validates_capabilities_and_names_the_problem():
    with pytest.raises(CommandError, match="failure_rates: unknown outcome 'explode'"):
        run("register_device", "p1", "--capabilities", '{"failure_rates": {"explode": 0.1}}')
    with pytest.raises(CommandError, match="not valid JSON"):
        run("register_device", "p1", "--capabilities", "{nope")
    assert not Device.objects.exists()


def test_register_device_creates_and_updates():
    run("register_device", "p1", "--host", "rack-a")
    assert Device.objects.get(name="p1").host == "rack-a"
    with pytest.raises(CommandError, match="exists"):
        run("register_device", "p1")
    run(
        "register_device",
        "p1",
        "--update",
        "--backend",
        "appium",
        "--appium-url",
        "http://127.0.0.1:4723",
    )
    assert Device.objects.get(name="p1").backend == "appium"
