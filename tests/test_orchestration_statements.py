"""A job run by the device's runner takes a fixed, small number of statements: the runner's
per-job cost is the orchestration's cost, and each statement built through the ORM costs CPU."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from posting.models import DeviceQueue, Job, JobStatus
from posting.runner import DeviceRunner
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db(transaction=True)

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def test_a_successful_job_takes_nine_statements_besides_the_simulators_ledger():
    device = make_device()
    accounts = [make_account(device=device) for _ in range(3)]
    for n in range(6):
        make_job(f"S{n}", account=accounts[n % 3])
    runner = DeviceRunner(device, budget=60, idle_wait=0)
    runner.token = DeviceQueue.acquire_runner_lease(device.pk, timezone.now(), 30)
    assert runner.run_one_attempt()  # the first job: what starts once per runner is not counted
    with CaptureQueriesContext(connection) as context:
        assert runner.run_one_attempt()
    statements = [
        q["sql"]
        for q in context.captured_queries
        if not q["sql"].startswith(CONTROL) and "devices_publishrecord" not in q["sql"]
    ]
    # accounts with their device, claim, attempt; checkpoint; attempt, the hour's outcome
    # count, job (unless asked to cancel), pass entry, account's pacing. (PostgreSQL adds the
    # device's row lock before the claim and before the outcome; SQLite's IMMEDIATE
    # transaction is that lock.)
    assert len(statements) <= 9, "\n".join(s[:120] for s in statements)
    assert Job.objects.filter(status=JobStatus.SUCCESS).count() == 2


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's merged writes")
def test_on_postgresql_a_successful_job_takes_eleven_round_trips_with_the_simulators_ledger():
    device = make_device()
    account = make_account(device=device)
    for n in range(3):
        make_job(f"P{n}", account=account)
    runner = DeviceRunner(device, budget=60, idle_wait=0)
    runner.token = DeviceQueue.acquire_runner_lease(device.pk, timezone.now(), 30)
    assert runner.run_one_attempt()
    with CaptureQueriesContext(connection) as context:
        assert runner.run_one_attempt()
    sent = [q["sql"] for q in context.captured_queries]
    # Each of these is a round trip, transaction control included: the accounts; BEGIN,
    # the device's lock, the claim and its attempt in one statement, COMMIT; checkpoint; the
    # ledger; BEGIN, the device's lock, the attempt's, job's and account's ends in one
    # statement, COMMIT.
    assert len(sent) <= 11, "\n".join(s[:120] for s in sent)
    assert Job.objects.filter(status=JobStatus.SUCCESS).count() == 2
