"""Import jobs from CSV, all or nothing.

One pass over the file inside one transaction: each batch of rows is checked (against the
file and the database) and written; the first problem stops the writing, the reading goes on
to report every problem with its line and column, and the transaction is rolled back. So the
file is read once (standard input and pipes work), memory does not grow with it, and a file
with any bad row writes nothing. Progress files of the legacy tracker import with their state.
`--check-files` asks the phones' hosts about the video files before the transaction opens:
their answer travels through the database, which the import would otherwise hold locked.
"""

from __future__ import annotations

import queue
import shutil
import tempfile
import threading
from collections.abc import Generator, Iterator
from contextlib import closing
from dataclasses import dataclass, field, replace
from itertools import islice
from typing import BinaryIO

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from devices.models import Device
from posting.csv_format import KNOWN_COLUMNS, REQUIRED_COLUMNS, unescape_cell
from posting.csv_reading import (
    ImportRefused,
    Problem,
    StrictCsvReader,
    decoded_lines,
    open_csv_source,
)
from posting.csv_rows import Row, RowParser
from posting.host_tasks import missing_files
from posting.input_rules import VideoPathResolver, video_root
from posting.job_rows import NewJobRows, insert_jobs, write_rows
from posting.lifecycle import open_pass_entries
from posting.models import Account, EntryReason, Job, JobStatus, Pass, Platform
from posting.wakeups import wake_devices

__all__ = ["ImportRefused", "ImportSummary", "Problem", "import_jobs", "insert_jobs"]

BATCH = 2000
# On PostgreSQL, while batches are taken as new (_take_as_new): larger ones, and at most this
# many of them, each a subtransaction (a savepoint that wrote). Past 64 in one transaction
# PostgreSQL's snapshots lose track of them ("suboverflowed"): every session's visibility
# checks of the import's rows then read pg_subtrans until the import ends.
BATCH_AS_NEW = 10_000
MAX_BATCHES_AS_NEW = 50
MAX_REPORTED_PROBLEMS = 500
CONTENT_FIELDS = ["video_path", "caption", "scheduled_at", "priority", "max_attempts"]


@dataclass
class ImportSummary:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    accounts_created: int = 0
    dry_run: bool = False
    by_status: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        verb = "would import" if self.dry_run else "imported"
        return (
            f"{verb} {self.rows} {_plural(self.rows, 'row')}: {self.created} new "
            f"{_plural(self.created, 'job')}, {self.updated} updated, {self.unchanged} "
            f"unchanged, {self.accounts_created} new {_plural(self.accounts_created, 'account')}"
        )


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


class _RolledBack(Exception):
    """Leaves the import's transaction without committing (a dry run or a refused file)."""


class _TakeAgain(Exception):
    """Undoes a batch taken as new jobs: it is taken again with every lookup."""


def import_jobs(
    path: str,
    *,
    dry_run: bool = False,
    update: bool = False,
    check_files: bool = False,
    progress=None,
) -> ImportSummary:
    """Import the CSV at `path` ('-' is standard input). Raises ImportRefused, writing nothing."""
    with open_csv_source(str(path)) as source:
        importer = JobImporter(update=update, progress=progress)
        # Read again for --check-files, and on SQLite to place a repeat's first line.
        if check_files or connection.vendor == "sqlite":
            source = _rereadable(source)
        if check_files:
            importer.check_files(source)
            source.seek(0)
        try:
            with transaction.atomic():
                importer.run(source)
                if importer.problem_count or dry_run:
                    raise _RolledBack
        except _RolledBack:
            pass
        except IntegrityError as exc:
            # Everything the import writes was checked first: what the database still
            # refuses was written by another transaction meanwhile (on PostgreSQL, a job
            # another import added while this one looked).
            raise ImportRefused([_concurrent_change(exc)]) from exc
    importer.raise_problems()
    importer.summary.dry_run = dry_run
    return importer.summary


def _concurrent_change(error: IntegrityError) -> Problem:
    cause = getattr(error.__cause__, "diag", None)
    detail = getattr(cause, "message_detail", None) or str(error).splitlines()[0]
    return Problem(
        0,
        "",
        f"another import or change wrote the same rows while this one ran ({detail}); nothing "
        "was imported: run the import again to see how the file and the stored jobs differ",
    )


def _rereadable(source: BinaryIO) -> BinaryIO:
    if source.seekable():
        return source
    copy = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the import)
    shutil.copyfileobj(source, copy)
    copy.seek(0)
    return copy


class SeenJobIds:
    """The job ids read so far, the line of each and whether the import adds the job, for
    refusing a job id the file repeats and for the added jobs' pass history.

    Kept in a temporary table of the import's transaction rather than in a dict, so the
    import's memory does not grow with the file (a dict of 100,000 ids is about 10 MB).
    `indexed=False` (PostgreSQL, while the job table's own unique index answers for the ids)
    leaves the ids unindexed until `index` is called: `lines_of` needs it.

    On SQLite the jobs the import adds need no row here: the import holds the database's one
    write lock from its first insert to its commit, so the jobs numbered from its first added
    job on are exactly the ones it added (their ids the job table's unique index finds). Only
    rows of jobs stored before the import are kept, which a fresh file has none of.
    """

    TABLE = "posting_import_seen_job_ids"

    def __init__(self, *, indexed: bool = True) -> None:
        self.count = 0
        self.kept = 0
        self.added_from: int | None = None
        self.keeps_added = connection.vendor != "sqlite"
        with connection.cursor() as cursor:
            # On SQLite a table keyed by its text primary key alone is one b-tree instead of
            # a rowid table plus an index: half the writes per id.
            keyed = " WITHOUT ROWID" if connection.vendor == "sqlite" else ""
            key = "PRIMARY KEY" if keyed else "NOT NULL"  # PostgreSQL: see `index`
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.TABLE} "
                f"(job_id varchar(200) {key}, line integer NOT NULL, added boolean NOT NULL)"
                + keyed
            )
            cursor.execute(f"DELETE FROM {self.TABLE}")
        if indexed:
            self.index()

    def index(self) -> None:
        """Index the ids read so far and every one added after (SQLite's table is its own
        index)."""
        if connection.vendor == "sqlite":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {self.TABLE}_key ON {self.TABLE} (job_id)"
            )

    def lines_of(self, job_ids: list[str]) -> dict[str, int]:
        """The line each of these ids was first read on, for those read before (on SQLite,
        those of jobs stored before the import: `added_here` answers for the others)."""
        if not job_ids or not self.kept:
            return {}
        one_of, params = _one_of(job_ids)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT job_id, line FROM {self.TABLE} WHERE job_id {one_of}", params)
            return dict(cursor.fetchall())

    def add(self, rows: list[tuple[str, int, bool]], *, written: bool) -> None:
        """Record (job id, line, whether the import adds the job) of rows read; `written`:
        whether their new jobs are written (after a problem, the import only reads on)."""
        kept = rows if self.keeps_added or not written else [row for row in rows if not row[2]]
        if kept:
            write_rows(self.TABLE, ["job_id", "line", "added"], kept)
        self.kept += len(kept)
        self.count += len(rows)

    def note_first_added(self, job_id: str) -> None:
        """Called once the import's first new job is written."""
        if self.keeps_added or self.added_from is not None:
            return
        self.added_from = Job.objects.values_list("pk", flat=True).get(job_id=job_id)

    def added_here(self, job: Job) -> bool:
        """Whether this stored job is one the import added from an earlier line (SQLite)."""
        return self.added_from is not None and job.pk >= self.added_from

    def added_jobs(self) -> QuerySet:
        """The jobs the import added (one subquery, however many)."""
        if not self.keeps_added:
            return Job.objects.filter(pk__gte=self.added_from)
        if connection.vendor == "postgresql":
            # Autovacuum never analyses a temporary table: without statistics the planner
            # takes 100,000 ids for a few thousand and probes the job table's index once per
            # id (0.26-0.31 s) instead of hashing them (0.06-0.07 s, after 0.02-0.03 s here).
            with connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.TABLE}")
        return Job.objects.filter(
            job_id__in=RawSQL(f"SELECT job_id FROM {self.TABLE} WHERE added", [])
        )

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.TABLE}")


class JobImporter:
    def __init__(self, *, update: bool, progress=None) -> None:
        self.update = update
        self.progress = progress
        self.summary = ImportSummary()
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.devices = {d.name: d for d in Device.objects.only("pk", "name", "host")}
        self.video_paths = VideoPathResolver(video_root())
        self.current_pass = 1
        self.woken: set[int] = set()
        self.passes_present: set[int] = set()
        self.account_devices: dict[str, tuple[str, int]] = {}
        self.account_platforms: dict[str, tuple[str, int]] = {}
        # See _take_as_new. On SQLite the lookups are in-process reads of the database the
        # import holds locked; their round trips are what costs on PostgreSQL.
        self.assume_new = connection.vendor == "postgresql"
        # Repeats of jobs this import added (SQLite), by job id: where in `problems` each
        # later line's report stands, its first line filled in by `_place_repeats`.
        self.repeats: dict[str, list[int]] = {}

    # --- reading -----------------------------------------------------------------------------

    def rows(self, source: BinaryIO) -> Iterator[Row | Problem]:
        reader = StrictCsvReader(decoded_lines(source))
        records = iter(reader)
        first = next(records, None)
        if first is None:
            raise ImportRefused([Problem(1, "", "the file is empty: expected a header row")])
        columns = [unescape_cell(h).strip() for h in first[1]]
        self._check_header(columns)
        reader.header = columns
        parser = RowParser(self.devices, self.video_paths)
        for line, cells in records:
            # The row's text in one string answers "is it blank?" and "does any cell start
            # with an apostrophe?" in C, instead of a Python call per cell.
            text = "".join(cells)
            if not text.strip():
                continue
            if len(cells) != len(columns):
                yield Problem(line, "", f"{len(cells)} cells, but the header has {len(columns)}")
                continue
            if "'" in text:
                raw = {c: unescape_cell(v) for c, v in zip(columns, cells, strict=True)}
            else:
                raw = dict(zip(columns, cells, strict=True))
            row = parser.parse(line, raw)
            yield from parser.problems
            if row is not None and not parser.problems:
                yield row

    def _check_header(self, columns: list[str]) -> None:
        problems = [
            Problem(1, c, "missing required column") for c in REQUIRED_COLUMNS if c not in columns
        ]
        problems += [
            Problem(1, c[:60], f"unknown column (known: {', '.join(sorted(KNOWN_COLUMNS))})")
            for c in columns
            if c not in KNOWN_COLUMNS
        ]
        duplicated = {c for c in columns if columns.count(c) > 1}
        problems += [Problem(1, c, "column appears twice") for c in sorted(duplicated)]
        if problems:
            raise ImportRefused(problems)

    # --- the pass ----------------------------------------------------------------------------

    def run(self, source: BinaryIO) -> None:
        """Check and write every row; stops writing at the first problem, reads on.

        `source` is read again only to place a repeated job id's first line (SQLite)."""
        self.start = source.tell() if source.seekable() else 0
        self._ensure_first_pass()
        seen = SeenJobIds(indexed=not self.assume_new)
        batches = self._batches(source)
        if connection.vendor == "postgresql":
            # The server writes a batch in its own process: the next one is read meanwhile.
            batches = _read_ahead(batches)
        with closing(batches):  # stops a reader that is ahead when a write fails
            for number, batch in enumerate(batches):
                if number == MAX_BATCHES_AS_NEW and self.assume_new:
                    self.assume_new = False
                    seen.index()
                taken = self._take_as_new(batch, seen) if self.assume_new else None
                if taken is None:
                    taken = self._take(batch, seen)
                if self.progress is not None:
                    self.progress.update(taken)
        self.summary.rows = seen.count
        if self.repeats:
            self._place_repeats(source)
        if not self.problem_count:
            _refresh_stale_job_statistics(self.summary.created)
            # Once for the whole file: the ORM's IN lookup of each batch's 2,000 ids cost more
            # than the insert it feeds.
            if self.summary.created:
                open_pass_entries(seen.added_jobs(), EntryReason.IMPORT, timezone.now())
        seen.drop()
        wake_devices(self.woken)

    def _batches(self, source: BinaryIO) -> Generator[list[Row | Problem], None, None]:
        rows = self.rows(source)
        while batch := list(islice(rows, BATCH_AS_NEW if self.assume_new else BATCH)):
            yield batch

    def _take_as_new(self, batch: list[Row | Problem], seen: SeenJobIds) -> int | None:
        """Take a batch as new jobs, without looking up its ids among the stored jobs and the
        rows read before; how many rows it took, or None when the batch must be taken again
        with the lookups (and every later batch is).

        While every row so far was sound, every row read so far is in the job table, whose
        unique job_id then answers both lookups at once: the batch's COPY fails on a job id
        stored before or read before (waiting, as the index does, for a writer that has not
        committed yet). Any failure of the write, or any problem in the batch, undoes the
        batch (a savepoint) and leaves the answer to the lookups: a write that failed does
        not say which row, and a refused file reports every problem, repeats and differences
        from stored jobs included. Most imports add new jobs only: for them this spares two
        lookups per batch and the upkeep of an index of every id read.
        """
        before = (
            replace(self.summary, by_status=dict(self.summary.by_status)),
            len(self.problems),
            self.problem_count,
            set(self.passes_present),
            dict(self.account_devices),
            dict(self.account_platforms),
            seen.count,
        )
        try:
            with transaction.atomic():  # write_rows makes COPY's errors Django's
                taken = self._take(batch, seen, assume_new=True)
                if self.problem_count:
                    raise _TakeAgain
        except (_TakeAgain, IntegrityError):
            (
                self.summary,
                reported,
                self.problem_count,
                self.passes_present,
                self.account_devices,
                self.account_platforms,
                seen.count,
            ) = before
            del self.problems[reported:]
            self.assume_new = False
            seen.index()
            return None
        return taken

    def _take(self, batch: list[Row | Problem], seen: SeenJobIds, assume_new=False) -> int:
        """Check a batch and write it unless the file has a problem; how many rows it took."""
        rows = [item for item in batch if isinstance(item, Row)]
        earlier = {} if assume_new else seen.lines_of([row.values["job_id"] for row in rows])
        existing = {} if assume_new else self._existing_jobs(rows)
        first_rows = []
        for item in batch:
            if isinstance(item, Problem):
                self._report(item)
                continue
            job_id = item.values["job_id"]
            if job_id in earlier:
                self._report(
                    Problem(item.line, "job_id", f"{job_id!r} already on line {earlier[job_id]}")
                )
                continue
            if job_id in existing and seen.added_here(existing[job_id]):
                self._report_repeat(item)
                continue
            earlier[job_id] = item.line
            first_rows.append(item)
            if item.device:
                self._check_one_per_account(item, "device", self.account_devices)
            if item.platform:
                self._check_one_per_account(item, "platform", self.account_platforms)
        self._check_and_write(first_rows, existing, seen)
        return len(first_rows)

    def _report_repeat(self, row: Row) -> None:
        """A job id an earlier batch added: its first line is filled in by `_place_repeats`."""
        job_id, at = row.values["job_id"], len(self.problems)
        self._report(Problem(row.line, "job_id", f"{job_id!r} is on an earlier line"))
        if len(self.problems) > at:  # reported, not only counted
            self.repeats.setdefault(job_id, []).append(at)

    def _place_repeats(self, source: BinaryIO) -> None:
        """Read the file again for the first line of each repeated job id (the import is
        refused: only a refused file is read twice)."""
        first: dict[str, int] = {}
        source.seek(self.start)
        for item in self.rows(source):
            if isinstance(item, Row) and item.values["job_id"] in self.repeats:
                first.setdefault(item.values["job_id"], item.line)
                if len(first) == len(self.repeats):
                    break
        for job_id, indexes in self.repeats.items():
            if job_id not in first:
                continue  # the file changed under the import: "on an earlier line" it stays
            for index in indexes:
                line = self.problems[index].line
                message = f"{job_id!r} already on line {first[job_id]}"
                self.problems[index] = Problem(line, "job_id", message)

    def raise_problems(self) -> None:
        if self.problem_count:
            ordered = sorted(self.problems, key=lambda p: p.line)
            raise ImportRefused(ordered, self.problem_count)

    def _report(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)

    def _check_one_per_account(self, row: Row, column: str, given_before: dict) -> None:
        """An account has one device and one platform: every row of the file agrees."""
        value = getattr(row, column)
        if not value:
            return
        first = given_before.setdefault(row.account, (value, row.line))
        if first[0] != value:
            message = f"account {row.account!r} is given {column} {first[0]!r} on line {first[1]}"
            self._report(Problem(row.line, column, message))

    def _check_and_write(self, rows: list[Row], existing: dict[str, Job], seen: SeenJobIds) -> None:
        accounts = self._existing_accounts(rows)
        new_rows, changed = [], []
        for row in rows:
            self._check_binding(row, accounts.get(row.account))
            job = existing.get(row.values["job_id"])
            if job is None:
                new_rows.append(row)
                status = row.state.get("status", JobStatus.PENDING)
                self.summary.by_status[status] = self.summary.by_status.get(status, 0) + 1
            elif self._check_existing(row, job):
                changed.append(job)
        self.summary.created += len(new_rows)
        written = not self.problem_count
        seen.add(
            [(r.values["job_id"], r.line, r.values["job_id"] not in existing) for r in rows],
            written=written,
        )
        if not written:
            return  # nothing more is written: the transaction will be rolled back
        accounts = self._bind_accounts(rows, accounts)
        new_jobs = self._new_jobs(new_rows, accounts)
        self._ensure_pass_numbers({self.new_job_rows.pass_number(job) for job in new_jobs})
        self.new_job_rows.write(new_jobs)
        if new_rows:
            seen.note_first_added(new_rows[0].values["job_id"])
        for job in changed:
            job.updated_at = timezone.now()
        Job.objects.bulk_update(changed, CONTENT_FIELDS + ["updated_at"], batch_size=500)
        self.woken.update(a.device_id for a in accounts.values() if a.device_id)

    def _check_binding(self, row: Row, account: Account | None) -> None:
        if account is None:
            return
        # Device names are unique: comparing ids spares loading the bound device on every row.
        if row.device and account.device_id and account.device_id != self.devices[row.device].pk:
            bound = account.device.name
            self._report(
                Problem(
                    row.line,
                    "device",
                    f"account {row.account!r} is bound to device {bound!r}; rebinding is an "
                    "operator action in the admin",
                )
            )
        if row.platform and account.platform != row.platform:
            self._report(
                Problem(
                    row.line,
                    "platform",
                    f"account {row.account!r} is on {account.platform!r}; an account does not "
                    "change platform",
                )
            )

    def _check_existing(self, row: Row, job: Job) -> bool:
        """Whether an existing job takes the row's content (counted and checked here)."""
        if job.account.handle != row.account:
            self._report(
                Problem(row.line, "account", f"job exists for account {job.account.handle!r}")
            )
            return False
        changed = [f for f in CONTENT_FIELDS if getattr(job, f) != row.values[f]]
        if not changed:
            self.summary.unchanged += 1
            return False
        self.summary.updated += 1
        if not self.update:
            self._report(
                Problem(
                    row.line, changed[0], "differs from the stored job (use --update to change it)"
                )
            )
        elif job.status not in (JobStatus.PENDING, JobStatus.FAILED):
            self._report(
                Problem(
                    row.line, changed[0], f"job is {job.status}: only pending or failed jobs change"
                )
            )
        for name in CONTENT_FIELDS:
            setattr(job, name, row.values[name])
        return True

    def _existing_jobs(self, rows: list[Row]) -> dict[str, Job]:
        # Most rows of most files are new: a plain probe of the unique index finds the few that
        # exist, and only those are loaded as models (building the ORM's IN lookup of 2,000
        # ids per batch cost a tenth of a 100,000-row import).
        found = _stored_job_ids([r.values["job_id"] for r in rows])
        if not found:
            return {}
        jobs = Job.objects.filter(job_id__in=found).select_related("account")
        return {j.job_id: j for j in jobs}

    def _existing_accounts(self, rows: list[Row]) -> dict[str, Account]:
        handles = {r.account for r in rows}
        return {
            a.handle: a for a in Account.objects.filter(handle__in=handles).select_related("device")
        }

    # --- writing -----------------------------------------------------------------------------

    def _ensure_first_pass(self) -> None:
        if not Pass.objects.exists():
            Pass.objects.create(number=1, started_at=timezone.now(), note="first import")
        self.current_pass = Pass.latest_number()
        self.new_job_rows = NewJobRows(self.current_pass)

    def _new_jobs(self, rows: list[Row], accounts: dict[str, Account]) -> list[list]:
        make = self.new_job_rows.row
        account_ids = {handle: {"account_id": a.pk} for handle, a in accounts.items()}
        return [make(account_ids[row.account], row.values, row.state) for row in rows]

    def _ensure_pass_numbers(self, numbers: set[int]) -> None:
        # Passes are never deleted, so a number found or made for an earlier batch is not
        # looked up again (most files give one pass number, or none).
        numbers = numbers - self.passes_present
        if not numbers:
            return
        missing = numbers - set(
            Pass.objects.filter(number__in=numbers).values_list("number", flat=True)
        )
        self.passes_present |= numbers
        Pass.objects.bulk_create(
            [
                Pass(number=n, started_at=timezone.now(), note="from an imported progress file")
                for n in missing
            ]
        )

    def _bind_accounts(self, rows: list[Row], accounts: dict[str, Account]) -> dict[str, Account]:
        wanted = {r.account: r.device for r in rows}
        platforms = {r.account: r.platform for r in rows if r.platform}
        new = [
            Account(
                handle=h, device=self.devices.get(d), platform=platforms.get(h, Platform.TIKTOK)
            )
            for h, d in wanted.items()
            if h not in accounts
        ]
        for account in Account.objects.bulk_create(new):
            accounts[account.handle] = account
        self.summary.accounts_created += len(new)
        unbound = [a for h, a in accounts.items() if a.device_id is None and wanted.get(h)]
        for account in unbound:
            account.device = self.devices[wanted[account.handle]]
        Account.objects.bulk_update(unbound, ["device"])
        return accounts

    # --- --check-files -----------------------------------------------------------------------

    def check_files(self, source: BinaryIO) -> None:
        """Each video must exist on the machine of the phone that posts it."""
        checks: dict[str | None, list[tuple[int, str]]] = {}
        for batch in _batched(self.rows(source), BATCH):
            rows = [r for r in batch if isinstance(r, Row)]
            accounts = self._existing_accounts(rows)
            for row in rows:
                account = accounts.get(row.account)
                device = self.devices.get(row.device) or (account.device if account else None)
                host = device.host if device else None
                checks.setdefault(host, []).append((row.line, row.values["video_path"]))
        paths = {host: sorted({p for _, p in rows}) for host, rows in checks.items()}
        try:
            missing = missing_files(paths)
        except TimeoutError as exc:
            self._report(Problem(0, "video_path", f"files could not be checked: {exc}"))
            return
        for host, rows in checks.items():
            where = f" on host {host}" if host else ""
            for line, path in rows:
                if path in missing[host]:
                    self._report(Problem(line, "video_path", f"no file at {path}{where}"))


def _stored_job_ids(job_ids: list[str]) -> list[str]:
    """Those of these job ids that the job table holds."""
    if not job_ids:
        return []
    quote = connection.ops.quote_name
    one_of, params = _one_of(job_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('job_id')} FROM {quote(Job._meta.db_table)} "
            f"WHERE {quote('job_id')} {one_of}",
            params,
        )
        return [job_id for (job_id,) in cursor.fetchall()]


def _refresh_stale_job_statistics(added: int) -> None:
    """ANALYZE the job table when PostgreSQL's statistics describe a far smaller one.

    Analysed while every job was deleted (0 rows over thousands of pages), the table looks
    empty to the planner, which then checks each pass-history row's key to its job by reading
    a whole index (posting_job_status_category, id its third column) instead of the primary
    key: a 20,000-row import's commit took 33 s instead of under a second. ANALYZE counts the
    rows this transaction wrote, so the checks at commit are planned on the real size.
    """
    if connection.vendor != "postgresql" or not added:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Job._meta.db_table]
        )
        (recorded,) = cursor.fetchone()
        # -1: never analysed, and then the planner estimates from the table's size on disk.
        if 0 <= recorded < added / 10:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Job._meta.db_table)}")


# A control character: no job id holds one (input_rules.identifier refuses them).
_ID_SEPARATOR = "\x1f"


def _one_of(values: list[str]) -> tuple[str, list]:
    """SQL for "is one of these values": on PostgreSQL one text parameter the server splits
    (psycopg adapting a list of 2,000 strings cost twice the index lookup it feeds; binding
    them one by one, more), a list of parameters elsewhere."""
    if connection.vendor == "postgresql":
        joined = _ID_SEPARATOR.join(values)
        # A value holding the separator (or a lone empty one) would split differently.
        if joined and joined.count(_ID_SEPARATOR) == len(values) - 1:
            return "= ANY(string_to_array(%s, %s))", [joined, _ID_SEPARATOR]
        return "= ANY(%s)", [values]
    return f"IN ({', '.join(['%s'] * len(values))})", values


_ALL_READ = object()


def _read_ahead(batches: Generator[list, None, None]) -> Generator[list, None, None]:
    """`batches`, each one read in a thread while the caller handles the one before.

    Reading (decoding, splitting and checking every cell) touches no database, so it can go
    on while the caller waits for the database to write the batch before (about a third of a
    PostgreSQL import is that wait). At most two batches are held: the reader waits for the
    caller to take each before reading on. An error of the reader (a malformed file) is raised
    in the caller, as if read there; a caller that stops early stops the reader.
    """
    handed: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()
    current_timezone = timezone.get_current_timezone()  # naive datetimes of the file use it

    def read() -> None:
        try:
            with timezone.override(current_timezone):
                for batch in batches:
                    handed.put((batch, None))
                    handed.join()  # taken: read the next one while the caller handles it
                    if stop.is_set():
                        return
            handed.put((_ALL_READ, None))
        except BaseException as exc:  # raised again in the caller's thread
            handed.put((None, exc))
        finally:
            batches.close()

    reader = threading.Thread(target=read, name="import-reader", daemon=True)
    reader.start()
    try:
        while True:
            batch, error = handed.get()
            handed.task_done()
            if error is not None:
                raise error
            if batch is _ALL_READ:
                return
            yield batch
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader handing over one more batch
            try:
                handed.get(timeout=0.05)
                handed.task_done()
            except queue.Empty:
                pass
        reader.join()


def _batched(iterable, size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch
