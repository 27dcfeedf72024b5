"""Import jobs from CSV, all or nothing.

Two passes over the file, so memory does not grow with it: the first validates every row
(against the file and the database) and collects every problem with its line and column; only
a clean file gets the second pass, which writes in one transaction with bulk statements.
Progress files of the legacy tracker import with their state.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from devices.models import Device
from posting.csv_format import KNOWN_COLUMNS, REQUIRED_COLUMNS, unescape_cell
from posting.host_tasks import missing_files
from posting.models import Account, ErrorCategory, ErrorType, Job, JobStatus, Pass, Platform
from posting.wakeups import wake_devices
from retries.classification import classify_message
from retries.taxonomy import category_of, is_known_pair

BATCH = 2000
MAX_REPORTED_PROBLEMS = 500
CONTENT_FIELDS = ["video_path", "caption", "scheduled_at", "priority", "max_attempts"]
# Legacy statuses and where they land. A job claimed or running when the old run died may have
# been posted, so it waits for an operator instead of being posted again.
STATUS_ON_IMPORT = {
    "pending": JobStatus.PENDING,
    "retrying": JobStatus.PENDING,
    "claimed": JobStatus.NEEDS_REVIEW,
    "running": JobStatus.NEEDS_REVIEW,
    "success": JobStatus.SUCCESS,
    "failed": JobStatus.FAILED,
    "needs_review": JobStatus.NEEDS_REVIEW,
    "cancelled": JobStatus.CANCELLED,
}


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        return f"{where}: {self.message}"


class ImportRefused(Exception):
    """The file has problems; nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(f"{self.total} problems")


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
            f"{verb} {self.rows} rows: {self.created} new jobs, {self.updated} updated, "
            f"{self.unchanged} unchanged, {self.accounts_created} new accounts"
        )


@dataclass
class Row:
    line: int
    values: dict[str, object]
    state: dict[str, object]
    account: str
    device: str
    platform: str = ""  # empty: the column was not given (new accounts get tiktok)


def import_jobs(
    path: str | Path,
    *,
    dry_run: bool = False,
    update: bool = False,
    check_files: bool = False,
    progress=None,
) -> ImportSummary:
    """Validate the whole file, then write it in one transaction. Raises ImportRefused."""
    importer = JobImporter(Path(path), update=update, check_files=check_files, progress=progress)
    importer.validate()
    if dry_run:
        importer.summary.dry_run = True
        return importer.summary
    return importer.write()


class JobImporter:
    def __init__(self, path: Path, *, update: bool, check_files: bool, progress=None) -> None:
        self.path = path
        self.update = update
        self.check_files = check_files
        self.progress = progress
        self.summary = ImportSummary()
        self.problems: list[Problem] = []
        self.problem_count = 0
        self.devices = {d.name: d for d in Device.objects.only("pk", "name", "host")}
        # --check-files: (line, path) per device host (None: no device, checked here).
        self.file_checks: dict[str | None, list[tuple[int, str]]] = {}
        self.video_root_text = str(Path(settings.VIDEO_ROOT).resolve())
        self.new_accounts: set[str] = set()
        self.current_pass = 1

    # --- reading -----------------------------------------------------------------------------

    def rows(self) -> Iterator[Row | Problem]:
        try:
            with open(self.path, newline="", encoding="utf-8-sig") as handle:
                yield from self._parse(csv.reader(handle))
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                [Problem(0, "", f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8")]
            ) from None
        except csv.Error as exc:
            raise ImportRefused([Problem(0, "", f"not a readable CSV file: {exc}")]) from None

    def _parse(self, reader) -> Iterator[Row | Problem]:
        header = next(reader, None)
        if header is None:
            raise ImportRefused([Problem(1, "", "the file is empty: expected a header row")])
        columns = [unescape_cell(h).strip() for h in header]
        self._check_header(columns)
        previous_end = reader.line_num
        for cells in reader:
            line, previous_end = previous_end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                yield Problem(line, "", f"{len(cells)} cells, but the header has {len(columns)}")
                continue
            raw = {c: unescape_cell(v) for c, v in zip(columns, cells, strict=True)}
            yield from self._row(line, raw)

    def _check_header(self, columns: list[str]) -> None:
        problems = [
            Problem(1, c, "missing required column") for c in REQUIRED_COLUMNS if c not in columns
        ]
        problems += [
            Problem(1, c, f"unknown column (known: {', '.join(sorted(KNOWN_COLUMNS))})")
            for c in columns
            if c not in KNOWN_COLUMNS
        ]
        duplicated = {c for c in columns if columns.count(c) > 1}
        problems += [Problem(1, c, "column appears twice") for c in sorted(duplicated)]
        if problems:
            raise ImportRefused(problems)

    def _row(self, line: int, raw: dict[str, str]) -> Iterator[Row | Problem]:
        parser = RowParser(line, raw, self)
        row = parser.parse()
        yield from parser.problems
        if row is not None and not parser.problems:
            yield row

    # --- pass 1 ------------------------------------------------------------------------------

    def validate(self) -> None:
        seen: dict[str, int] = {}
        account_devices: dict[str, tuple[str, int]] = {}
        account_platforms: dict[str, tuple[str, int]] = {}
        for batch in _batched(self._counted(self.rows()), BATCH):
            rows = [r for r in batch if isinstance(r, Row)]
            for problem in (r for r in batch if isinstance(r, Problem)):
                self._report(problem)
            for row in rows:
                job_id = row.values["job_id"]
                if job_id in seen:
                    self._report(
                        Problem(row.line, "job_id", f"{job_id!r} already on line {seen[job_id]}")
                    )
                seen.setdefault(job_id, row.line)
                self._check_account_device(row, account_devices)
                self._check_account_platform(row, account_platforms)
            self._check_against_database(rows)
        self._check_files()
        self.summary.rows = len(seen)
        self.summary.accounts_created = len(self.new_accounts)
        if self.problem_count:
            ordered = sorted(self.problems, key=lambda p: p.line)
            raise ImportRefused(ordered, self.problem_count)

    def _counted(self, items):
        for item in items:
            if self.progress is not None and isinstance(item, Row):
                self.progress.update(1)
            yield item

    def _report(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)

    def _check_account_device(self, row: Row, account_devices: dict) -> None:
        if not row.device:
            return
        first = account_devices.setdefault(row.account, (row.device, row.line))
        if first[0] != row.device:
            self._report(
                Problem(
                    row.line,
                    "device",
                    f"account {row.account!r} is given device {first[0]!r} on line {first[1]}",
                )
            )

    def _check_account_platform(self, row: Row, account_platforms: dict) -> None:
        if not row.platform:
            return
        first = account_platforms.setdefault(row.account, (row.platform, row.line))
        if first[0] != row.platform:
            self._report(
                Problem(
                    row.line,
                    "platform",
                    f"account {row.account!r} is given platform {first[0]!r} on line {first[1]}",
                )
            )

    def _check_against_database(self, rows: list[Row]) -> None:
        existing = self._existing_jobs(rows)
        accounts = self._existing_accounts(rows)
        for row in rows:
            account = accounts.get(row.account)
            if account is None:
                self.new_accounts.add(row.account)
            if self.check_files:
                device = self.devices.get(row.device) or (account.device if account else None)
                host = device.host if device else None
                self.file_checks.setdefault(host, []).append((row.line, row.values["video_path"]))
            bound = account.device.name if account and account.device else ""
            if row.device and bound and bound != row.device:
                self._report(
                    Problem(
                        row.line,
                        "device",
                        f"account {row.account!r} is bound to device {bound!r}; rebinding is an "
                        "operator action in the admin",
                    )
                )
            if row.platform and account and account.platform != row.platform:
                self._report(
                    Problem(
                        row.line,
                        "platform",
                        f"account {row.account!r} is on {account.platform!r}; an account does not "
                        "change platform",
                    )
                )
            job = existing.get(row.values["job_id"])
            if job is None:
                self.summary.created += 1
                status = row.state.get("status", JobStatus.PENDING)
                self.summary.by_status[status] = self.summary.by_status.get(status, 0) + 1
            else:
                self._check_existing(row, job)

    def _check_files(self) -> None:
        """Each video must exist on the machine of the phone that posts it."""
        if not self.file_checks:
            return
        paths = {host: sorted({p for _, p in rows}) for host, rows in self.file_checks.items()}
        try:
            missing = missing_files(paths)
        except TimeoutError as exc:
            self._report(Problem(0, "video_path", f"files could not be checked: {exc}"))
            return
        for host, rows in self.file_checks.items():
            where = f" on host {host}" if host else ""
            for line, path in rows:
                if path in missing[host]:
                    self._report(Problem(line, "video_path", f"no file at {path}{where}"))

    def _check_existing(self, row: Row, job: Job) -> None:
        if job.account.handle != row.account:
            self._report(
                Problem(row.line, "account", f"job exists for account {job.account.handle!r}")
            )
            return
        changed = [f for f in CONTENT_FIELDS if getattr(job, f) != row.values[f]]
        if not changed:
            self.summary.unchanged += 1
            return
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

    def _existing_jobs(self, rows: list[Row]) -> dict[str, Job]:
        ids = [r.values["job_id"] for r in rows]
        return {j.job_id: j for j in Job.objects.filter(job_id__in=ids).select_related("account")}

    def _existing_accounts(self, rows: list[Row]) -> dict[str, Account]:
        handles = {r.account for r in rows}
        return {
            a.handle: a for a in Account.objects.filter(handle__in=handles).select_related("device")
        }

    # --- pass 2 ------------------------------------------------------------------------------

    def write(self) -> ImportSummary:
        woken: set[int] = set()
        with transaction.atomic():
            self._ensure_passes()
            for batch in _batched(self.rows(), BATCH):
                self._write_batch([r for r in batch if isinstance(r, Row)], woken)
            wake_devices(woken)
        return self.summary

    def _ensure_passes(self) -> None:
        if not Pass.objects.exists():
            Pass.objects.create(number=1, started_at=timezone.now(), note="first import")
        self.current_pass = Pass.latest_number()

    def _write_batch(self, rows: list[Row], woken: set[int]) -> None:
        accounts = self._accounts_for(rows)
        existing = self._existing_jobs(rows)
        new_jobs, changed = [], []
        for row in rows:
            job = existing.get(row.values["job_id"])
            if job is None:
                new_jobs.append(self._new_job_values(row, accounts[row.account]))
            elif any(getattr(job, f) != row.values[f] for f in CONTENT_FIELDS):
                for name in CONTENT_FIELDS:
                    setattr(job, name, row.values[name])
                job.updated_at = timezone.now()
                changed.append(job)
        self._ensure_pass_numbers({j["pass_number"] for j in new_jobs})
        insert_jobs(new_jobs)
        Job.objects.bulk_update(changed, CONTENT_FIELDS + ["updated_at"], batch_size=500)
        woken.update(a.device_id for a in accounts.values() if a.device_id)

    def _new_job_values(self, row: Row, account: Account) -> dict:
        values = {"account_id": account.pk, **row.values, **row.state}
        if not row.state.get("pass_number"):
            values["pass_number"] = self.current_pass
        return values

    def _ensure_pass_numbers(self, numbers: set[int]) -> None:
        missing = numbers - set(
            Pass.objects.filter(number__in=numbers).values_list("number", flat=True)
        )
        Pass.objects.bulk_create(
            [
                Pass(number=n, started_at=timezone.now(), note="from an imported progress file")
                for n in missing
            ]
        )

    def _accounts_for(self, rows: list[Row]) -> dict[str, Account]:
        accounts = self._existing_accounts(rows)
        wanted = {r.account: r.device for r in rows}
        platforms = {r.account: r.platform for r in rows if r.platform}
        new = [
            Account(
                handle=h,
                device=self.devices.get(d),
                platform=platforms.get(h, Platform.TIKTOK),
            )
            for h, d in wanted.items()
            if h not in accounts
        ]
        for account in Account.objects.bulk_create(new):
            accounts[account.handle] = account
        unbound = [a for h, a in accounts.items() if a.device_id is None and wanted.get(h)]
        for account in unbound:
            account.device = self.devices[wanted[account.handle]]
        Account.objects.bulk_update(unbound, ["device"])
        return accounts


class RowParser:
    """Turns one CSV row into model values, collecting a problem per bad cell."""

    def __init__(self, line: int, raw: dict[str, str], importer: JobImporter) -> None:
        self.line = line
        self.raw = raw
        self.importer = importer
        self.problems: list[Problem] = []

    def problem(self, column: str, message: str) -> None:
        self.problems.append(Problem(self.line, column, message))

    def text(self, column: str, *, required: bool = False, max_length: int | None = None) -> str:
        value = self.raw.get(column, "")
        value = value if column == "caption" else value.strip()
        if required and not value:
            self.problem(column, "is empty")
        if max_length and len(value) > max_length:
            self.problem(column, f"is longer than {max_length} characters")
        return value

    def integer(self, column: str, default: int | None, minimum: int) -> int | None:
        value = self.raw.get(column, "").strip()
        if not value:
            return default
        try:
            number = int(value)
        except ValueError:
            self.problem(column, f"{value!r} is not a whole number")
            return default
        if number < minimum:
            self.problem(column, f"must be at least {minimum}, not {number}")
        return number

    def moment(self, column: str) -> datetime | None:
        value = self.raw.get(column, "").strip()
        if not value:
            return None
        try:
            parsed = parse_datetime(value.replace(" ", "T", 1) if "T" not in value else value)
        except ValueError:
            parsed = None
        if parsed is None:
            self.problem(column, f"{value!r} is not a date and time like 2026-11-28T14:30:00+01:00")
            return None
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)

    def parse(self) -> Row | None:
        values = {
            "job_id": self.text("job_id", required=True, max_length=200),
            "video_path": self.video_path(),
            "caption": self.text("caption"),
            "scheduled_at": self.moment("scheduled_at"),
            "priority": self.integer("priority", 0, minimum=-1_000_000),
            "max_attempts": self.integer("max_attempts", settings.DEFAULT_MAX_ATTEMPTS, minimum=1),
        }
        account = self.text("account", required=True, max_length=200)
        device = self.text("device")
        if device and device not in self.importer.devices:
            self.problem("device", f"no device named {device!r} (register it first)")
        state = self.state() if "status" in self.raw else {}
        return Row(self.line, values, state, account, device, self.platform())

    def platform(self) -> str:
        value = self.text("platform").lower()
        if value and value not in Platform.values:
            self.problem("platform", f"{value!r} is not one of {', '.join(Platform.values)}")
        return value

    def video_path(self) -> str:
        value = self.text("video_path", required=True, max_length=1000)
        if not value:
            return value
        if os.path.isabs(value):
            return os.path.normpath(value)
        root = self.importer.video_root_text
        path = os.path.normpath(os.path.join(root, value))
        if not path.startswith(root + os.sep):
            self.problem("video_path", f"{value!r} leaves the video root {root}")
            return value
        return path

    def state(self) -> dict[str, object]:
        """The legacy progress columns of a row."""
        raw_status = self.text("status").lower() or "pending"
        status = STATUS_ON_IMPORT.get(raw_status)
        if status is None:
            self.problem("status", f"{raw_status!r} is not one of {', '.join(STATUS_ON_IMPORT)}")
            status = JobStatus.PENDING
        state = {
            "status": status,
            "claimed_at": self.moment("claimed_at"),
            "completed_at": self.moment("completed_at"),
            "retry_at": self.moment("retry_at"),
            "error": self.text("error"),
            "attempts": self.integer("attempts", 0, minimum=0),
            "pass_number": self.integer("pass_number", 0, minimum=1),
            "post_url": self.text("post_url", max_length=500),
        }
        state.update(self.classification(status, raw_status, state["error"]))
        return state

    def classification(self, status: str, raw_status: str, error: str) -> dict[str, str]:
        error_type = self.text("error_type")
        category = self.text("error_category")
        if raw_status in ("claimed", "running"):
            return {
                "error": f"{raw_status} when the previous run stopped: the post may exist",
                "error_category": ErrorCategory.UNKNOWN,
                "error_type": ErrorType.UNVERIFIED_PUBLISH,
            }
        if error_type and error_type not in ErrorType.values:
            self.problem("error_type", f"{error_type!r} is not a known type")
            return {}
        if category and category not in ErrorCategory.values:
            self.problem("error_category", f"{category!r} is not a known category")
            return {}
        if status in (JobStatus.SUCCESS, JobStatus.PENDING) and not error:
            return {"error_category": category, "error_type": error_type}
        if not category:
            # Progress files older than the two-level taxonomy have the type only (or neither).
            category = category_of(error_type) if error_type else classify_message(error).category
            if not error_type:
                error_type = classify_message(error).error_type
        if not is_known_pair(category, error_type):
            self.problem("error_category", f"{category!r} does not go with type {error_type!r}")
        return {"error_category": category, "error_type": error_type}


def insert_jobs(rows: list[dict]) -> None:
    """Insert new jobs: COPY on PostgreSQL, one executemany elsewhere.

    At 100,000 rows bulk_create's per-field preparation of model instances costs more than the
    write itself; the values here are already clean, so only datetimes need adapting.
    """
    if not rows:
        return
    fields = [f for f in Job._meta.concrete_fields if not f.primary_key]
    now = timezone.now()
    defaults = {f.attname: f.get_default() for f in fields} | {"created_at": now, "updated_at": now}
    quote = connection.ops.quote_name
    table = quote(Job._meta.db_table)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ([row.get(f.attname, defaults[f.attname]) for f in fields] for row in rows)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        moments = [isinstance(f, models.DateTimeField) for f in fields]
        placeholders = ", ".join(["%s"] * len(fields))
        cursor.executemany(
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders})",
            [[adapt(v) if m else v for v, m in zip(row, moments, strict=True)] for row in values],
        )


def _batched(iterable, size: int):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch
