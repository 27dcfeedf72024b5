"""Write jobs as a progress CSV: legacy columns first, then newer ones, formula-safe."""

import csv
from collections.abc import Iterable
from datetime import datetime
from typing import TextIO

from posting.csv_format import EXPORT_COLUMNS, escape_cell
from posting.models import Job


def export_progress(jobs: Iterable[Job], out: TextIO) -> int:
    """Write `jobs` (a queryset is streamed) to `out`; returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    if hasattr(jobs, "select_related"):
        jobs = jobs.select_related("account__device", "device").order_by("id").iterator(2000)
    count = 0
    for job in jobs:
        writer.writerow([escape_cell(_cell(v)) for v in progress_row(job)])
        count += 1
    return count


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
    ]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
