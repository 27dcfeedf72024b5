"""Status choices of the posting layer and the named groups of states."""

from django.db import models

from retries.taxonomy import (
    COOLDOWN_HOLD_TYPES,
    OPERATOR_HOLD_TYPES,
    ErrorCategory,
    ErrorType,
    types_of,
)

__all__ = [
    "AccountStatus",
    "AttemptOutcome",
    "ErrorCategory",
    "ErrorType",
    "JobStatus",
    "PauseScope",
    "Platform",
]


class JobStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    NEEDS_REVIEW = "needs_review", "Needs review"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_JOB_STATUSES = frozenset({JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED})
# Where an operator may still edit a job's content (caption, video, schedule).
EDITABLE_JOB_STATUSES = frozenset({JobStatus.PENDING, JobStatus.FAILED, JobStatus.NEEDS_REVIEW})
CANCELLABLE_JOB_STATUSES = frozenset({JobStatus.PENDING, JobStatus.FAILED, JobStatus.NEEDS_REVIEW})


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCESS = "success", "Success"
    FAILED = "failed", "Failed"
    LOST = "lost", "Lost"


# An account is active, or held by one of the taxonomy's account failure types (its status is
# that type's value): adding an account type to retries/taxonomy.py adds the status.
AccountStatus = models.TextChoices(
    "AccountStatus",
    [("ACTIVE", ("active", "Active"))]
    + [(t.name, (t.value, t.label)) for t in types_of(ErrorCategory.ACCOUNT)],
)

# The account status an account failure of each type puts the account in.
HOLD_STATUS_OF_TYPE = {t: AccountStatus(t.value) for t in types_of(ErrorCategory.ACCOUNT)}


# Holds that mean the platform is pushing back on the account itself; the circuit breaker
# counts them together. Rate limits are softer (a cooldown, no ban) and counted on their own.
ACCOUNT_REASON_HOLDS = frozenset(HOLD_STATUS_OF_TYPE[t] for t in OPERATOR_HOLD_TYPES)
RATE_LIMIT_HOLDS = frozenset(HOLD_STATUS_OF_TYPE[t] for t in COOLDOWN_HOLD_TYPES)


class Platform(models.TextChoices):
    TIKTOK = "tiktok", "TikTok"
    INSTAGRAM = "instagram", "Instagram"
    YOUTUBE = "youtube", "YouTube"


class PauseScope(models.TextChoices):
    PLATFORM = "platform", "Platform"
    HOST = "host", "Host"
