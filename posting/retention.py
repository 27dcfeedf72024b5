"""Prune old attempts and their evidence files, keeping what operators still need."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.files.storage import default_storage

from devices.flow_trial import prune_trials
from posting.models import Attempt, AttemptOutcome, JobStatus, Pass
from posting.models.attempt import EVIDENCE_KINDS

BATCH = 1000


@dataclass(frozen=True)
class PruneReport:
    attempts: int
    files: int
    trials: int = 0

    def __str__(self) -> str:
        trials = f", {self.trials} flow trials" if self.trials else ""
        return f"pruned {self.attempts} attempts and {self.files} evidence files{trials}"


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
            return PruneReport(attempts + count, files, trials)
        for _, *names in batch:
            for name in filter(None, names):
                default_storage.delete(name)
                files += 1
        attempts += Attempt.objects.filter(pk__in=[pk for pk, *_ in batch]).delete()[0]
