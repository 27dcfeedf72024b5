"""Each pass's failure counters are recorded as attempts fail and always agree with a recount
of the attempts: failed attempts and the distinct jobs among them, by category and type."""

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from posting import lifecycle
from posting.dashboard import dashboard_data
from posting.models import Attempt, Job, JobStatus, Outcome, PassFailure
from posting.models.pass_failures import FAILED_OUTCOMES
from posting.outcomes import settle_report
from posting.sweep import recover_lost_attempts
from tests.factories import (
    claim,
    make_account,
    make_device,
    make_failed_job,
    make_job,
    refreshed,
)

pytestmark = pytest.mark.django_db

FAILURES = {
    "adb_timeout": Outcome.failed("TimeoutError: adb", "infrastructure", "adb_timeout", "t"),
    "connection_dropped": Outcome.failed(
        "ConnectionError", "infrastructure", "connection_dropped", "t"
    ),
    "captcha": Outcome.failed("captcha shown", "account", "captcha", "t"),
    "unrecognised": Outcome.failed("something odd", "unknown", "", "t"),
}


def attempt_once(job: Job, result: str) -> str | None:
    """One claimed attempt of `job` settled as `result` (a failure type or "success")."""
    attempt = claim(refreshed(job))
    outcome = Outcome(True) if result == "success" else FAILURES[result]
    return settle_report(attempt, outcome, timezone.now())


def counters() -> dict[tuple, tuple[int, int]]:
    return {
        (c.pass_number, c.error_category, c.error_type): (c.attempts, c.jobs)
        for c in PassFailure.objects.all()
    }


def recounted() -> dict[tuple, tuple[int, int]]:
    """What the counters must say, counted from the attempts themselves."""
    rows = (
        Attempt.objects.filter(outcome__in=FAILED_OUTCOMES)
        .values("pass_number", "error_category", "error_type")
        .annotate(n=Count("id"), jobs=Count("job", distinct=True))
    )
    return {
        (r["pass_number"], r["error_category"], r["error_type"]): (r["n"], r["jobs"]) for r in rows
    }


def test_counters_match_a_recount_after_failures_retries_lost_workers_and_requeues(clock):
    jobs = [make_job(account=make_account(device=make_device())) for _ in range(4)]
    retried, requeued, held, odd = jobs
    # Retried within the pass: the same type twice, another type, then success.
    assert attempt_once(retried, "adb_timeout") == JobStatus.PENDING
    assert attempt_once(retried, "adb_timeout") == JobStatus.PENDING
    assert attempt_once(retried, "connection_dropped") == JobStatus.FAILED
    # Runs out of attempts, then is requeued into pass 2 and fails there again.
    for _ in range(3):
        attempt_once(requeued, "adb_timeout")
    assert refreshed(requeued).status == JobStatus.FAILED
    lifecycle.requeue_as_new_pass(Job.objects.filter(pk=requeued.pk), now=timezone.now())
    assert attempt_once(requeued, "adb_timeout") == JobStatus.PENDING
    # An account failure, never retried; an unrecognised one.
    assert attempt_once(held, "captcha") == JobStatus.FAILED
    assert attempt_once(odd, "unrecognised") == JobStatus.FAILED
    # A worker dies: the sweep records its attempt as lost.
    claim(refreshed(requeued))
    clock.shift(timedelta(minutes=5))
    assert recover_lost_attempts(None, timezone.now()) == 1

    assert counters() == recounted()
    assert counters()[(1, "infrastructure", "adb_timeout")] == (5, 2)
    assert counters()[(2, "infrastructure", "adb_timeout")] == (1, 1)
    assert counters()[(2, "infrastructure", "worker_lost")] == (1, 1)


def test_a_refused_report_counts_nothing(clock):
    job = make_job(account=make_account(device=make_device()))
    stale = claim(job)
    clock.shift(timedelta(minutes=5))
    recover_lost_attempts(None, timezone.now())  # the sweep takes the attempt over
    assert settle_report(stale, FAILURES["adb_timeout"], timezone.now()) is None
    assert counters() == {(1, "infrastructure", "worker_lost"): (1, 1)} == recounted()


def test_the_dashboard_shows_failed_attempts_and_distinct_jobs_of_the_current_pass():
    first, second = (make_job(account=make_account(device=make_device())) for _ in range(2))
    attempt_once(first, "adb_timeout")
    attempt_once(first, "adb_timeout")
    attempt_once(second, "adb_timeout")
    attempt_once(second, "captcha")
    failures = dashboard_data(timezone.now())["failures"]
    assert [(f["category"], f["type"], f["count"], f["jobs"]) for f in failures] == [
        ("infrastructure", "adb_timeout", 3, 2),
        ("account", "captcha", 1, 1),
    ]


def test_recount_rebuilds_the_counters_from_the_attempts():
    job = make_job(account=make_account(device=make_device()))
    attempt_once(job, "adb_timeout")
    attempt_once(job, "connection_dropped")
    recorded = counters()
    PassFailure.objects.all().update(attempts=99, jobs=99)
    PassFailure.objects.recount([1])
    assert counters() == recorded == recounted()


def test_a_job_counts_once_whatever_order_its_attempts_are_counted_in():
    job = make_failed_job("F1", account=make_account(device=make_device()))
    assert Attempt.objects.filter(job=job).count() == 3  # created first, then each counted
    assert counters() == recounted() == {(1, "infrastructure", "adb_timeout"): (3, 1)}
