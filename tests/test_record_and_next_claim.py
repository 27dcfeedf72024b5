"""A runner records a success and claims its device's next job in one transaction (where a
round trip costs: PostgreSQL), and nothing that refuses the claim costs the record.

The outcomes asserted are the same on SQLite, where each is its own transaction: these tests
run on both (tests/test_writes_on_postgresql.py runs them on PostgreSQL).
"""

import uuid
from datetime import timedelta

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import DeviceHealth
from posting import runner as runner_module
from posting.claiming import ClaimInMessage, claim_next_job
from posting.execution import run_attempt
from posting.models import Attempt, ClusterHeartbeat, DeviceQueue, Job, JobStatus
from posting.runner import DeviceRunner, settle_then_claim
from tests.factories import (
    NOW,
    make_account,
    make_device,
    make_job,
    make_stray_running_attempt,
    refreshed,
)

pytestmark = pytest.mark.django_db(transaction=True)


def a_runner(device, **options) -> DeviceRunner:
    return DeviceRunner(device, budget=options.pop("budget", 60), idle_wait=0, **options)


def a_device_with_jobs(count: int, seen_lately: bool = False):
    """A phone with one account and jobs J0..J<count - 1> pending on it. Seen lately, its
    success writes nothing after its message, and on PostgreSQL the next claim is sent in it
    (ClaimInMessage); else the claim follows the device's health write."""
    device = make_device(last_seen_at=NOW if seen_lately else None)
    account = make_account(device=device)
    for n in range(count):
        make_job(f"J{n}", account=account)
    return device


def after_each_post(monkeypatch, then) -> None:
    """Calls `then(job)` after each simulated post, before its report is recorded."""
    run_attempt = runner_module.run_attempt

    def posted_then(job, device, attempt, **options):
        report = run_attempt(job, device, attempt, **options)
        then(job)
        return report

    monkeypatch.setattr(runner_module, "run_attempt", posted_then)


def test_a_runner_posts_every_job_of_its_device_and_leaves_none_running():
    device = make_device()
    accounts = [make_account(device=device) for _ in range(3)]
    for n in range(9):
        make_job(f"J{n}", account=accounts[n % 3])
    summary = a_runner(device).run()
    assert (summary.attempts, summary.stopped_because) == (9, "no work due")
    assert Job.objects.filter(status=JobStatus.SUCCESS).count() == 9
    assert not Attempt.objects.running().exists()
    assert sorted(Attempt.objects.values_list("job__job_id", flat=True)) == [
        f"J{n}" for n in range(9)
    ]


def test_a_cancel_after_the_checkpoint_sends_the_job_to_review_and_the_runner_goes_on(
    monkeypatch,
):
    device = a_device_with_jobs(3)

    def cancelled_while_posting(job):
        if job.job_id == "J1":  # the operator's cancel arrives after the tap
            Job.objects.filter(pk=job.pk).update(cancel_requested=True)

    after_each_post(monkeypatch, cancelled_while_posting)
    summary = a_runner(device).run()
    assert summary.attempts == 3
    statuses = dict(Job.objects.values_list("job_id", "status"))
    assert statuses == {"J0": "success", "J1": "needs_review", "J2": "success"}
    assert not Attempt.objects.running().exists()


# The two ways a record claims the next job: after the success's message, or in it.
claim_paths = pytest.mark.parametrize(
    "seen_lately", [False, True], ids=["claim-after-record", "claim-in-message"]
)


@claim_paths
def test_a_refused_next_claim_keeps_the_success_recorded_and_the_job_waiting(
    monkeypatch, seen_lately
):
    device = make_device(last_seen_at=NOW if seen_lately else None)
    account = make_account(device=device)
    make_job("J0", account=account)
    broken = make_job("J1", account=account)
    # A running attempt of J1 on another phone, while J1 reads as pending: the database
    # refuses a second running attempt of the job, so claiming J1 fails.
    make_stray_running_attempt(broken)
    summary = a_runner(device, budget=0.5, sleep=lambda seconds: None).run()
    assert summary.attempts == 1
    assert Job.objects.get(job_id="J0").status == JobStatus.SUCCESS
    assert Attempt.objects.get(job__job_id="J0").outcome == "success"
    waiting = Job.objects.get(job_id="J1")
    assert (waiting.status, waiting.attempts) == (JobStatus.PENDING, 0)


def test_a_runner_past_its_budget_claims_no_job_with_its_last_record():
    device = make_device()
    account = make_account(device=device)
    for n in range(3):
        make_job(f"J{n}", account=account)
    summary = a_runner(device, budget=0).run()
    assert (summary.attempts, summary.stopped_because) == (0, "budget spent")
    runner = a_runner(device)
    runner.token = DeviceQueue.acquire_runner_lease(device.pk, timezone.now(), 30)
    runner._deadline = 0.0  # a loop whose budget ended while its job ran
    assert runner.run_one_attempt()
    assert runner._next is None
    assert Job.objects.filter(status=JobStatus.RUNNING).count() == 0
    assert Job.objects.filter(status=JobStatus.SUCCESS).count() == 1


def statements_of_a_run(jobs: int) -> int:
    device = make_device()
    accounts = [make_account(device=device) for _ in range(3)]
    for n in range(jobs):
        make_job(f"{device.name}-{n}", account=accounts[n % 3])
    with CaptureQueriesContext(connection) as context:
        summary = a_runner(device).run()
    assert summary.attempts == jobs
    return len(context.captured_queries)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's chained claim")
def test_on_postgresql_a_job_takes_five_round_trips_with_the_simulators_ledger():
    # What a run costs besides its jobs (the lease, the first claim, the hand-over) is the
    # same for 10 jobs and 30: the difference is 20 jobs' worth.
    per_job = (statements_of_a_run(30) - statements_of_a_run(10)) / 20
    # BEGIN; one message: the device's lock, the attempt's, job's and account's ends, the
    # next claim with its attempt, and the accounts' read; COMMIT; the checkpoint; the
    # ledger. (And what is asked once a second, not per job: is the cluster stopping?)
    assert per_job < 5.5, per_job


def test_the_claim_with_a_record_sees_the_pacing_the_record_wrote():
    device = make_device()
    account = make_account(device=device, min_post_interval=timedelta(hours=1))
    make_job("J0", account=account)
    make_job("J1", account=account)
    summary = a_runner(device, budget=0.5, sleep=lambda seconds: None).run()
    # J0's post starts the account's hour: J1 waits for it, whichever read the claim used.
    assert summary.attempts == 1
    assert Job.objects.get(job_id="J1").status == JobStatus.PENDING


@pytest.mark.parametrize(
    "before",
    [
        {"device": {"failure_streak": 2}},
        {"account": {"status": "rate_limited", "held_until": NOW - timedelta(minutes=1)}},
    ],
    ids=["device-streak-ended", "account-released"],
)
def test_the_next_job_claimed_with_a_record_carries_the_rows_as_the_record_left_them(before):
    device = make_device(**before.get("device", {}))
    account = make_account(device=device, **before.get("account", {}))
    make_job("J0", account=account)
    make_job("J1", account=account)
    claimed = claim_next_job(device, now=timezone.now())
    report = run_attempt(claimed.job, claimed.device, claimed)
    following = settle_then_claim(claimed, report, timezone.now())
    assert following.job.job_id == "J1"
    # The success wrote the device's health and released the account after its merged
    # statement: the next job's instances are read after those writes, not before them.
    assert (following.device.health, following.device.failure_streak) == (DeviceHealth.ONLINE, 0)
    assert following.job.account.status == "active"
    assert (refreshed(device).health, refreshed(account).status) == (DeviceHealth.ONLINE, "active")


def test_a_runner_whose_device_lease_was_taken_while_posting_claims_nothing_more(monkeypatch):
    device = a_device_with_jobs(3)
    runner = a_runner(device)

    def lease_taken_while_posting(job):
        DeviceQueue.objects.filter(device=device).update(runner_token=uuid.uuid4())
        runner._lease_extended_at = -1e9  # the next ask reaches the database

    after_each_post(monkeypatch, lease_taken_while_posting)
    summary = runner.run()
    assert (summary.attempts, summary.stopped_because) == (1, "device lease lost")
    statuses = dict(Job.objects.values_list("job_id", "status"))
    assert statuses == {"J0": "success", "J1": "pending", "J2": "pending"}
    assert not Attempt.objects.running().exists()


def unanswered(*args, **kwargs):
    raise OperationalError("the server closed the connection")


def test_a_failed_ask_for_the_device_lease_after_a_success_still_records_it(monkeypatch):
    runner = a_runner(a_device_with_jobs(2))

    def database_gone_after_posting(job):
        monkeypatch.setattr(DeviceQueue, "extend_runner_lease", unanswered)
        runner._lease_extended_at = -1e9  # the next ask reaches the database

    after_each_post(monkeypatch, database_gone_after_posting)
    summary = runner.run()
    assert summary.attempts == 1
    assert summary.stopped_because.startswith("error:")
    statuses = dict(Job.objects.values_list("job_id", "status"))
    assert statuses == {"J0": "success", "J1": "pending"}
    assert not Attempt.objects.running().exists()


def a_success_to_record(device):
    """A claimed attempt of the device's first job, run: its report waits to be recorded."""
    attempt = claim_next_job(device, now=timezone.now())
    return attempt, runner_module.run_attempt(attempt.job, attempt.device, attempt)


def on_either_claim_path(monkeypatch, then) -> None:
    """Wraps both ways of claiming with a record: `then(claim)` is called for the claim."""
    claim_in_transaction = runner_module.claim_next_job_in_transaction
    claim_in_message = ClaimInMessage.attempt
    monkeypatch.setattr(
        runner_module,
        "claim_next_job_in_transaction",
        lambda *args, **kwargs: then(lambda: claim_in_transaction(*args, **kwargs)),
    )
    monkeypatch.setattr(
        ClaimInMessage, "attempt", lambda self: then(lambda: claim_in_message(self))
    )


@claim_paths
def test_a_job_claimed_with_a_record_is_run_when_a_callback_after_the_commit_fails(
    monkeypatch, seen_lately
):
    attempt, report = a_success_to_record(a_device_with_jobs(2, seen_lately))

    def claim_then_a_failing_wake_up(claim):
        transaction.on_commit(unanswered)  # as a released account's device wake-up is
        return claim()

    on_either_claim_path(monkeypatch, claim_then_a_failing_wake_up)
    claimed = settle_then_claim(attempt, report, timezone.now())
    # The transaction committed: the job it claimed is handed back to be run, not dropped.
    assert claimed is not None and claimed.job.job_id == "J1"
    assert Attempt.objects.get(pk=claimed.pk).outcome == "running"
    assert Job.objects.get(job_id="J0").status == JobStatus.SUCCESS


@claim_paths
def test_a_fault_in_the_claim_still_records_the_success_and_is_raised(monkeypatch, seen_lately):
    attempt, report = a_success_to_record(a_device_with_jobs(2, seen_lately))

    def faulty_claim(claim):
        raise KeyError("a bug in the claim")

    on_either_claim_path(monkeypatch, faulty_claim)
    with pytest.raises(KeyError):
        settle_then_claim(attempt, report, timezone.now())
    assert Job.objects.get(job_id="J0").status == JobStatus.SUCCESS
    assert Attempt.objects.get(pk=attempt.pk).outcome == "success"
    assert Job.objects.get(job_id="J1").status == JobStatus.PENDING
    assert not Attempt.objects.running().exists()


def test_a_failed_ask_whether_the_cluster_is_stopping_is_asked_again(monkeypatch):
    runner = a_runner(a_device_with_jobs(3))
    asked = []

    def unanswered_once_then_stopping(cluster):
        asked.append(cluster)
        if len(asked) == 1:
            unanswered()
        return True

    def stopping_asked_after_posting(job):
        monkeypatch.setattr(
            ClusterHeartbeat, "is_stopping", staticmethod(unanswered_once_then_stopping)
        )
        runner._stop_checked_at = -1e9  # the next ask reaches the database

    after_each_post(monkeypatch, stopping_asked_after_posting)
    summary = runner.run()
    # Cannot tell is not "not stopping": no job is claimed until the cluster answers.
    assert summary.attempts == 1
    statuses = dict(Job.objects.values_list("job_id", "status"))
    assert statuses == {"J0": "success", "J1": "pending", "J2": "pending"}
    assert not Attempt.objects.running().exists()
