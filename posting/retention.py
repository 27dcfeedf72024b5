"""Prune old attempts and their evidence files, keeping what operators still need."""

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.storage import default_storage

from devices.flow_trial import prune_trials
from posting.models import Attempt, AttemptOutcome, JobStatus, Pass
from posting.models.attempt import EVIDENCE_KINDS

BATCH = 1000
EVIDENCE_DIR = "evidence"
# A file younger than this may belong to an attempt that is still writing its evidence.
ORPHAN_MIN_AGE = timedelta(hours=1)
_ATTEMPT_DIR = re.compile(r"^attempt-(\d+)$")
logger = logging.getLogger("posting.retention")


@dataclass(frozen=True)
class PruneReport:
    attempts: int
    files: int
    trials: int = 0
    orphans: int = 0

    def __str__(self) -> str:
        trials = f", {self.trials} flow trials" if self.trials else ""
        return (
            f"pruned {self.attempts} attempts and {self.files} evidence files{trials}, "
            f"removed {self.orphans} orphaned or empty evidence files"
        )


def prunable_attempts(now: datetime, days: int):
    """Finished attempts older than `days`, except those of needs_review jobs and of the
    latest pass (the operator may still be working through them)."""
    return (
        Attempt.objects.filter(finished_at__lt=now - timedelta(days=days))
        .exclude(outcome=AttemptOutcome.RUNNING)
        .exclude(job__status=JobStatus.NEEDS_REVIEW)
        .exclude(pass_number__gte=Pass.latest_number())
    )


def prune_history(now: datetime, days: int, *, dry_run: bool = False) -> PruneReport:
    attempts = files = 0
    trials = prune_trials(now - timedelta(days=days), dry_run=dry_run)
    while True:
        batch = list(prunable_attempts(now, days).values_list("pk", *EVIDENCE_KINDS)[:BATCH])
        if not batch or dry_run:
            count = prunable_attempts(now, days).count() if dry_run else 0
            orphans = 0 if dry_run else prune_orphaned_evidence(now)
            return PruneReport(attempts + count, files, trials, orphans)
        for _, *names in batch:
            for name in filter(None, names):
                default_storage.delete(name)
                files += 1
        attempts += Attempt.objects.filter(pk__in=[pk for pk, *_ in batch]).delete()[0]


def prune_orphaned_evidence(now: datetime) -> int:
    """Remove evidence files no attempt links (a crash between writing and recording, a full
    disk) and empty ones; files younger than ORPHAN_MIN_AGE are left to their writer."""
    if not default_storage.exists(EVIDENCE_DIR):
        return 0
    removed = 0
    folders, _ = default_storage.listdir(EVIDENCE_DIR)
    for folder in folders:
        match = _ATTEMPT_DIR.match(folder)
        linked = _linked_files(int(match.group(1))) if match else set()
        for file in default_storage.listdir(f"{EVIDENCE_DIR}/{folder}")[1]:
            name = f"{EVIDENCE_DIR}/{folder}/{file}"
            try:
                if _is_orphan(name, linked, now):
                    default_storage.delete(name)
                    removed += 1
            except OSError as exc:  # one unreadable file must not stop the others
                logger.warning("Evidence %s could not be pruned: %s", name, exc)
    return removed


def _linked_files(attempt_pk: int) -> set[str]:
    names = Attempt.objects.filter(pk=attempt_pk).values_list("screenshot", "page_source")
    return {name for pair in names for name in pair if name}


def _is_orphan(name: str, linked: set[str], now: datetime) -> bool:
    if now - default_storage.get_modified_time(name) < ORPHAN_MIN_AGE:
        return False
    return name not in linked or default_storage.size(name) == 0
