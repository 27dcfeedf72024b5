"""Benchmark steps that run inside one Django process on a throw-away database.

`fleetlab.bench` runs each in a fresh child process (`python -m fleetlab.run_step STEP ...`)
pointed at the scenario's database; a step returns a dict of figures, printed as JSON. The
floors (what the same work costs without Fleetpost) are measured here, next to the product's
figure, on the same data.
"""

from __future__ import annotations

import csv
import resource
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from django.db import connection, reset_queries, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from devices.models import Device
from fleetlab import legacy_tracker
from fleetlab.bench import NOOP
from posting.job_rows import write_rows
from posting.lifecycle import open_pass_entries
from posting.models import (
    Account,
    Attempt,
    EntryReason,
    HourlyOutcome,
    Job,
    JobStatus,
    Pass,
    PassFailure,
)

BATCH = 20_000


def noop() -> None:
    """The task bare django-q2 runs in the orchestration scenario."""


def enqueue_noops(size: str) -> dict:
    from django_q.tasks import async_task

    for _ in range(int(size)):
        async_task(NOOP)
    return {"enqueued": int(size)}


def forget_noops() -> dict:
    """Delete bare django-q2's task rows after its round. On PostgreSQL the posting cluster
    shares the table, and its monitor reads and prunes every success row beyond its save
    limit, whoever's: rows left would cost its next round and vanish from the next count."""
    from django_q.models import Task

    deleted, _ = Task.objects.filter(func=NOOP).delete()
    return {"deleted": deleted}


# --- import ----------------------------------------------------------------------------------


def import_file(path: str) -> dict:
    """`import_jobs` on the file, in this process: seconds and the process's peak memory."""
    from posting.csv_import import import_jobs

    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    summary = import_jobs(path)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"rows": summary.created, "seconds": seconds, "before_kb": before_kb, "peak_kb": peak_kb}


def import_floor(path: str) -> dict:
    """The same file parsed with the csv module and written with one raw statement.

    Into a copy of the empty, migrated job table with its indexes: `executemany` on SQLite,
    COPY on PostgreSQL. Nothing is checked; the values are the ones the import would write.
    """
    floor_table = "bench_floor_job"
    fields = [f for f in Job._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    with connection.cursor() as cursor:
        _copy_job_table(cursor, floor_table)
    accounts = dict(Account.objects.values_list("handle", "pk"))
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    defaults = {f.column: f.get_default() for f in fields}
    defaults |= {"created_at": now, "updated_at": now, "status": JobStatus.PENDING}
    template = [defaults[c] for c in columns]
    at = {c: columns.index(c) for c in ("job_id", "account_id", "video_path", "caption")}
    started = time.perf_counter()
    with open(path, newline="", encoding="utf-8") as source, transaction.atomic():
        reader = csv.reader(source, strict=True)
        header = next(reader)
        position = {name: header.index(name) for name in ("job_id", "video_path", "caption")}
        account_at = header.index("account")
        rows = []
        for cells in reader:
            row = list(template)
            for name, index in position.items():
                row[at[name]] = cells[index]
            row[at["account_id"]] = accounts[cells[account_at]]
            rows.append(row)
        write_rows(floor_table, columns, rows)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {floor_table}")
        (count,) = cursor.fetchone()
        cursor.execute(f"DROP TABLE {floor_table}")
    return {"rows": count, "seconds": seconds}


def _copy_job_table(cursor, name: str) -> None:
    """An empty table shaped like posting_job: the same columns, constraints (its foreign keys
    included, deferred to the commit as Django makes them) and indexes."""
    table = Job._meta.db_table
    if connection.vendor == "postgresql":
        cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING ALL)")
        # LIKE copies no foreign keys; SQLite's copy of the CREATE statement keeps them, and
        # both floors are to be the same table.
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY conname",
            [table],
        )
        for constraint, definition in cursor.fetchall():
            renamed = constraint.replace(table, name, 1)
            cursor.execute(f'ALTER TABLE {name} ADD CONSTRAINT "{renamed}" {definition}')
        return
    cursor.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = %s AND sql IS NOT NULL",
        [table],
    )
    for kind, object_name, sql in sorted(cursor.fetchall(), key=lambda r: r[0] != "table"):
        renamed = sql.replace(f'"{table}"', f'"{name}"', 1)
        if kind == "index":
            renamed = renamed.replace(f'"{object_name}"', f'"{name}_{object_name}"', 1)
            renamed = renamed.replace(f'ON "{table}"', f'ON "{name}"', 1)
        cursor.execute(renamed)


def clear_jobs() -> dict:
    Job.objects.all().delete()
    Account.objects.all().delete()
    return {"cleared": True}


# --- update_job_status -----------------------------------------------------------------------


def update_job_status(size: str, calls: str = "400", legacy_calls: str = "20") -> dict:
    """`update_job_status` with `size` jobs in the database, against the legacy CSV tracker
    (read the whole progress file under its lock, rewrite it) holding as many jobs."""
    from posting.tracking import update_job_status as update

    size, calls, legacy_calls = int(size), int(calls), int(legacy_calls)
    devices = [Device.objects.create(name=f"track-{n}") for n in range(10)]
    accounts = Account.objects.bulk_create(
        Account(handle=f"@track-{n}", device=devices[n % len(devices)]) for n in range(100)
    )
    Pass.objects.get_or_create(number=1, defaults={"started_at": timezone.now()})
    for offset in range(0, size, BATCH):
        Job.objects.bulk_create(
            Job(
                job_id=f"T{n:08d}",
                account=accounts[n % len(accounts)],
                video_path=f"/v/{n}.mp4",
                caption=f"bench {n}",
            )
            for n in range(offset, min(offset + BATCH, size))
        )
    # Measured on a database that has been running a while, as the admin step is: the bulk
    # insert folded back (SQLite's log checkpointed, PostgreSQL vacuumed and analysed), not
    # checkpointed or vacuumed by autovacuum while the calls are timed.
    _settle_bulk_writes()
    # Spread over the table; a quarter fail (classified, retried later), the rest succeed.
    chosen = [f"T{n:08d}" for n in range(0, size, max(1, size // calls))][:calls]
    started = time.perf_counter()
    for index, job_id in enumerate(chosen):
        if index % 4 == 3:
            update(job_id, "failed", None, error="TimeoutError: adb did not answer")
        else:
            update(job_id, "success", None)
    seconds = (time.perf_counter() - started) / len(chosen)

    with tempfile.TemporaryDirectory() as folder:
        progress = Path(folder) / "progress.csv"
        legacy_tracker.write_progress(progress, size)
        legacy_ids = [f"J{n:08d}" for n in range(0, size, max(1, size // legacy_calls))]
        started = time.perf_counter()
        for index, job_id in enumerate(legacy_ids[:legacy_calls]):
            if index % 4 == 3:
                legacy_tracker.update_job_status(
                    progress, job_id, "failed", 1, error="TimeoutError: adb did not answer"
                )
            else:
                legacy_tracker.update_job_status(progress, job_id, "success", 1)
        legacy_seconds = (time.perf_counter() - started) / min(legacy_calls, len(legacy_ids))
    return {
        "jobs": size,
        "calls": len(chosen),
        "seconds": seconds,
        "legacy_calls": min(legacy_calls, len(legacy_ids)),
        "legacy_seconds": legacy_seconds,
    }


# --- requeue ---------------------------------------------------------------------------------


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
    # Each failed job has its pass-1 history row, ended as failed, as an import or a run
    # would have left it (the requeue leaves them as they are, and adds one per job in pass 2).
    open_pass_entries(
        Job.objects.filter(job_id__gte=f"F{start:08d}", job_id__lt=f"F{start + size:08d}"),
        EntryReason.IMPORT,
        timezone.now(),
    )


class _Undo(Exception):
    pass


def requeue(size: str) -> dict:
    """Requeue `size` failed jobs as a new pass, against one raw UPDATE of the same rows
    (measured first, in a transaction rolled back)."""
    from posting.lifecycle import requeue_as_new_pass

    size = int(size)
    _failed_jobs(size)
    # As the admin step does: the setup's bulk writes folded back (SQLite's log checkpointed,
    # PostgreSQL vacuumed), or the requeue's commit would pay for checkpointing them.
    _settle_bulk_writes()
    table = connection.ops.quote_name(Job._meta.db_table)
    try:
        with transaction.atomic():
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET status = %s, pass_number = 2, attempts = 0, "
                    "retry_at = NULL, claimed_at = NULL, completed_at = NULL, error = '', "
                    "error_category = '', error_type = '', updated_at = %s "
                    "WHERE status = %s AND error_category = %s",
                    [
                        JobStatus.PENDING,
                        connection.ops.adapt_datetimefield_value(timezone.now()),
                        JobStatus.FAILED,
                        "infrastructure",
                    ],
                )
            floor = time.perf_counter() - started
            raise _Undo
    except _Undo:
        pass
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        new_pass, counts = requeue_as_new_pass(
            Job.objects.filter(error_category="infrastructure"), now=timezone.now()
        )
        seconds = time.perf_counter() - started
    return {
        "jobs": sum(counts.values()),
        "pass": new_pass.number,
        "seconds": seconds,
        "queries": len(queries),
        "floor_seconds": floor,
    }


# --- admin -----------------------------------------------------------------------------------


def _attempts(jobs: list[int], per_job: int, device: Device) -> None:
    """Failed attempts of pass 1, bulk inserted, then counted in the pass's failure counters
    and the hourly outcomes as `Attempt.finish` would have counted them one by one."""
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
    PassFailure.objects.recount([1])
    HourlyOutcome.objects.recount()


def _settle_bulk_writes() -> None:
    """After the bulk inserts, bring the database to the state of one that has been running a
    while: SQLite's write-ahead log folded back into the file; on PostgreSQL what autovacuum
    does on its own (statistics for the planner, the visibility map for index-only scans)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            cursor.execute("VACUUM ANALYZE")


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
    "passes": "/admin/posting/pass/",
    "dashboard": "/dashboard/",
    "dashboard json": "/dashboard/data.json",
}


def _measure(client: Client) -> dict[str, list]:
    """Each page's best time of three, and its query count (counted on a fourth load, since
    capturing queries costs time)."""
    figures = {}
    for name, url in PAGES.items():
        best = None
        for _ in range(3):
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (url, response.status_code)
            best = elapsed if best is None else min(best, elapsed)
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            client.get(url)
        figures[name] = [best * 1000, len(captured)]
    return figures


def admin(size: str, attempts_per_job: str = "10") -> dict:
    """Every admin page and the dashboard at 100 jobs, then at `size` jobs."""
    from django.contrib.auth import get_user_model

    size, per_job = int(size), int(attempts_per_job)
    user = get_user_model().objects.create_superuser("bench", "b@x", "bench-pass-1")
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    device, _ = Device.objects.get_or_create(name="bench-device")
    _failed_jobs(100)
    _attempts(list(Job.objects.values_list("pk", flat=True)), per_job, device)
    small = _measure(client)
    _failed_jobs(size - 100, start=100)
    rest = list(Job.objects.order_by("pk").values_list("pk", flat=True)[100:])
    _attempts(rest, per_job, device)
    _settle_bulk_writes()
    big = _measure(client)
    return {
        "jobs": Job.objects.count(),
        "attempts": Attempt.objects.count(),
        "small": small,
        "big": big,
    }
