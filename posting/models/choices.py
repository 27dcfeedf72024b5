"""Status choices of the posting layer and the named groups of states."""

from django.db import models

from retries.taxonomy import ErrorCategory, ErrorType

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


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    CAPTCHA = "captcha", "Captcha"
    LOGGEDOUT = "loggedout", "Logged out"
    RATE_LIMITED = "rate_limited", "Rate limited"


# The account status an account failure of each type puts the account in.
HOLD_STATUS_OF_TYPE = {
    ErrorType.SUSPENDED: AccountStatus.SUSPENDED,
    ErrorType.CAPTCHA: AccountStatus.CAPTCHA,
    ErrorType.LOGGEDOUT: AccountStatus.LOGGEDOUT,
    ErrorType.RATE_LIMITED: AccountStatus.RATE_LIMITED,
}


# Holds that mean the platform is pushing back on the account itself; the circuit breaker
# counts them together. Rate limits are softer (a cooldown, no ban) and counted on their own.
ACCOUNT_REASON_HOLDS = frozenset(
    {AccountStatus.SUSPENDED, AccountStatus.CAPTCHA, AccountStatus.LOGGEDOUT}
)
RATE_LIMIT_HOLDS = frozenset({AccountStatus.RATE_LIMITED})


class Platform(models.TextChoices):
    TIKTOK = "tiktok", "TikTok"
    INSTAGRAM = "instagram", "Instagram"
    YOUTUBE = "youtube", "YouTube"


class PauseScope(models.TextChoices):
    PLATFORM = "platform", "Platform"
    HOST = "host", "Host"
