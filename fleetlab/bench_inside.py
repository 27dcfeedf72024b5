"""Benchmark scenarios that run inside a Django process on a throw-away database."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta

from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from posting.models import Account, Attempt, Job, JobStatus, Pass

BATCH = 20_000


def noop() -> None:
    """The task bare django-q2 runs in the overhead scenario."""


def enqueue_noops(size: int) -> str:
    from django_q.tasks import async_task

    for _ in range(size):
        async_task("fleetlab.bench_inside.noop")
    return f"enqueued {size}"


def clear_jobs(size: int) -> str:
    Job.objects.all().delete()
    Account.objects.all().delete()
    return "cleared"


def _failed_jobs(size: int, start: int = 0) -> None:
    device, _ = Device.objects.get_or_create(name="bench-device")
    account, _ = Account.objects.get_or_create(handle="@bench", defaults={"device": device})
    Pass.objects.get_or_create(number=1, defaults={"started_at": timezone.now()})
    for offset in range(start, start + size, BATCH):
        Job.objects.bulk_create(
            Job(
                job_id=f"F{n:08d}",
                account=account,
                video_path=f"/v/{n}.mp4",
                caption="bench",
                status=JobStatus.FAILED,
                attempts=3,
                error="TimeoutError: adb",
                error_category="infrastructure",
                error_type="adb_timeout" if n % 3 else "connection_dropped",
            )
            for n in range(offset, min(offset + BATCH, start + size))
        )


def requeue(size: int) -> str:
    from posting.lifecycle import requeue_as_new_pass

    _failed_jobs(size)
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        new_pass, counts = requeue_as_new_pass(
            Job.objects.filter(error_category="infrastructure"), now=timezone.now()
        )
        seconds = time.perf_counter() - started
    return (
        f"requeue: {sum(counts.values())} failed jobs into pass {new_pass.number} in "
        f"{seconds:.2f} s with {len(queries)} queries (target: < 2 s, bulk statements)"
    )


def _attempts(jobs: list[int], per_job: int, device: Device) -> None:
    now = timezone.now()
    rows = []
    for index, job_pk in enumerate(jobs):
        for number in range(1, per_job + 1):
            rows.append(
                Attempt(
                    job_id=job_pk,
                    device=device,
                    pass_number=1,
                    number=number,
                    started_at=now - timedelta(minutes=index % 600, seconds=number),
                    finished_at=now - timedelta(minutes=index % 600),
                    outcome="failed",
                    error="TimeoutError: adb",
                    error_category="infrastructure",
                    error_type="adb_timeout",
                    lease_token=uuid.uuid4(),
                    lease_expires_at=now,
                )
            )
            if len(rows) >= BATCH:
                Attempt.objects.bulk_create(rows)
                rows = []
    Attempt.objects.bulk_create(rows)


PAGES = {
    "jobs": "/admin/posting/job/",
    "jobs filtered": (
        "/admin/posting/job/?status__exact=failed&error_category__exact=infrastructure"
    ),
    "jobs searched": "/admin/posting/job/?q=F00012345",
    "attempts": "/admin/posting/attempt/",
    "attempts filtered": (
        "/admin/posting/attempt/?outcome__exact=failed&error_type__exact=adb_timeout"
    ),
    "dashboard": "/dashboard/",
    "dashboard json": "/dashboard/data.json",
}


def _measure(client: Client) -> dict[str, tuple[float, int]]:
    figures = {}
    for name, url in PAGES.items():
        best, queries = None, 0
        for _ in range(3):
            reset_queries()  # DEBUG's bounded query log may be full after the inserts
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = client.get(url)
                elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            best = elapsed if best is None else min(best, elapsed)
            queries = len(captured)
        figures[name] = (best * 1000, queries)
    return figures


def admin(size: int) -> str:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("bench", "b@x", "bench-pass-1")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    device, _ = Device.objects.get_or_create(name="bench-device")
    _failed_jobs(100)
    _attempts(list(Job.objects.values_list("pk", flat=True)), 10, device)
    small = _measure(client)
    _failed_jobs(size - 100, start=100)
    rest = list(Job.objects.filter(attempt_set__isnull=True).values_list("pk", flat=True))
    _attempts(rest, 10, device)
    big = _measure(client)
    parts = [
        f"{name} {ms:.0f} ms/{queries}q"
        + ("" if queries == small[name][1] else f" (100 rows: {small[name][1]}q)")
        for name, (ms, queries) in big.items()
    ]
    attempts = Attempt.objects.count()
    return (
        f"admin: {size} jobs, {attempts} attempts: "
        + "; ".join(parts)
        + " (target: < 300 ms each, same queries as at 100 rows)"
    )
