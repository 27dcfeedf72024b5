"""Write jobs as a progress CSV: legacy columns first, then newer ones, formula-safe."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TextIO

from posting.csv_format import EXPORT_COLUMNS, escape_cell
from posting.models import Job


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def progress_csv_lines(jobs: Iterable[Job]) -> Iterator[str]:
    """The CSV, line by line; a queryset is streamed from the database in chunks."""
    # RFC 4180 line ends: with "\n" alone the writer would not quote a caption holding a bare
    # CR, and the file would not read back.
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield writer.writerow(EXPORT_COLUMNS)
    if hasattr(jobs, "select_related"):
        jobs = jobs.select_related("account__device", "device").order_by("id").iterator(2000)
    for job in jobs:
        yield writer.writerow([escape_cell(_cell(v)) for v in progress_row(job)])


def export_progress(jobs: Iterable[Job], out: TextIO) -> int:
    """Write `jobs` to `out`; returns the number of rows."""
    rows = -1
    for rows, line in enumerate(progress_csv_lines(jobs)):  # noqa: B007 (counts the lines)
        out.write(line)
    return rows


def progress_row(job: Job) -> list[object]:
    account_device = job.account.device
    return [
        job.job_id,
        job.account.handle,
        job.video_path,
        job.caption,
        job.status,
        job.device.name if job.device else "",
        job.claimed_at,
        job.completed_at,
        job.error,
        job.attempts,
        job.max_attempts,
        job.retry_at,
        job.error_type,
        job.error_category,
        job.pass_number,
        account_device.name if account_device else "",
        job.scheduled_at,
        job.priority,
        job.post_url,
        job.account.platform,
    ]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
