"""The original CSV tracker's design, rebuilt as the floor of the update_job_status benchmark.

The legacy tracker (`progress_tracker.ProgressTracker`, see the task notes in the shared
reference folder) kept every job in one progress CSV with the legacy columns, beside a `.lock`
file. Recording an outcome took the lock, read every job as a dict (`_read_all_jobs`), changed
one, classified its error when no category was given (`_classify_error`) and wrote the whole
file back. Nothing here is used by Fleetpost.
"""

from __future__ import annotations

import csv
import fcntl
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from posting.csv_format import LEGACY_COLUMNS
from retries.classification import classify_message

# The legacy progress columns, in their order: the product's own definition.
COLUMNS = LEGACY_COLUMNS


def write_progress(path: Path, jobs: int) -> None:
    """A progress file of `jobs` pending jobs (J00000000, J00000001, ...)."""
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for n in range(jobs):
            writer.writerow(
                [f"J{n:08d}", f"@acct-{n % 100}", f"/v/{n}.mp4", f"bench {n}", "pending"]
                + ["", "", "", "", "0", "3", "", "", "", "1"]
            )


def update_job_status(
    path: Path,
    job_id: str,
    status: str,
    worker_id: int,
    error: str = "",
    retry_delay_minutes: float = 2.0,
) -> str:
    """Record one outcome: lock, read every row, change one, rewrite the file, unlock."""
    now = datetime.now(UTC)
    with open(f"{path}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with open(path, newline="", encoding="utf-8") as source:
                rows = list(csv.DictReader(source))
            for row in rows:
                if row["job_id"] != job_id:
                    continue
                row["worker_id"] = str(worker_id)
                row["attempts"] = str(int(row["attempts"]) + 1)
                row["completed_at"] = now.isoformat()
                row["error"] = error
                if status == "failed":
                    found = classify_message(error)
                    row["error_category"], row["error_type"] = found.category, found.error_type
                if status == "failed" and int(row["attempts"]) < int(row["max_attempts"]):
                    row["status"] = "pending"
                    row["retry_at"] = (now + timedelta(minutes=retry_delay_minutes)).isoformat()
                else:
                    row["status"] = status
                new_status = row["status"]
                break
            else:
                raise KeyError(job_id)
            temporary = f"{path}.tmp"
            with open(temporary, "w", newline="", encoding="utf-8") as out:
                writer = csv.DictWriter(out, COLUMNS)
                writer.writeheader()
                writer.writerows(rows)
            os.replace(temporary, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return new_status
