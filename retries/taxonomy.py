"""The failure taxonomy of DESIGN.md as code: the only list of categories and types.

Stored values are the ones the original progress files use, so an exported CSV reads the same
as the legacy tracker's. Success stores '' for both category and type.
"""

from django.db import models


class ErrorCategory(models.TextChoices):
    NONE = "", "—"
    ACCOUNT = "account", "Account"
    INFRASTRUCTURE = "infrastructure", "Infrastructure"
    CONTENT = "content", "Content"
    UNKNOWN = "unknown", "Unknown"


class ErrorType(models.TextChoices):
    NONE = "", "—"
    # infrastructure
    ADB_TIMEOUT = "adb_timeout", "ADB timeout"
    CONNECTION_DROPPED = "connection_dropped", "Connection dropped"
    VERIFICATION_RACE = "verification_race", "Pre-post verification failed"
    CLAUDE_STUCK = "claude_stuck", "Automation gave up"
    WORKER_LOST = "worker_lost", "Worker lost"
    JOB_TIMEOUT = "job_timeout", "Job timed out"
    DEVICE_OFFLINE = "device_offline", "Device offline"
    APPIUM_SESSION = "appium_session", "Appium session failed"
    # account
    SUSPENDED = "suspended", "Account suspended"
    CAPTCHA = "captcha", "Captcha"
    LOGGEDOUT = "loggedout", "Logged out"
    RATE_LIMITED = "rate_limited", "Rate limited"
    # content
    MEDIA_MISSING = "media_missing", "Media missing"
    CAPTION_REJECTED = "caption_rejected", "Caption rejected"
    # unknown
    UNVERIFIED_PUBLISH = "unverified_publish", "Unverified publish"


CATEGORY_OF_TYPE: dict[str, str] = {
    ErrorType.ADB_TIMEOUT: ErrorCategory.INFRASTRUCTURE,
    ErrorType.CONNECTION_DROPPED: ErrorCategory.INFRASTRUCTURE,
    ErrorType.VERIFICATION_RACE: ErrorCategory.INFRASTRUCTURE,
    ErrorType.CLAUDE_STUCK: ErrorCategory.INFRASTRUCTURE,
    ErrorType.WORKER_LOST: ErrorCategory.INFRASTRUCTURE,
    ErrorType.JOB_TIMEOUT: ErrorCategory.INFRASTRUCTURE,
    ErrorType.DEVICE_OFFLINE: ErrorCategory.INFRASTRUCTURE,
    ErrorType.APPIUM_SESSION: ErrorCategory.INFRASTRUCTURE,
    ErrorType.SUSPENDED: ErrorCategory.ACCOUNT,
    ErrorType.CAPTCHA: ErrorCategory.ACCOUNT,
    ErrorType.LOGGEDOUT: ErrorCategory.ACCOUNT,
    ErrorType.RATE_LIMITED: ErrorCategory.ACCOUNT,
    ErrorType.MEDIA_MISSING: ErrorCategory.CONTENT,
    ErrorType.CAPTION_REJECTED: ErrorCategory.CONTENT,
    ErrorType.UNVERIFIED_PUBLISH: ErrorCategory.UNKNOWN,
}


def types_of(category: str) -> list[ErrorType]:
    """The taxonomy's types of one category, in the taxonomy's order."""
    return [t for t in ErrorType if t and CATEGORY_OF_TYPE.get(t) == category]


# Account failures that hold the account until an operator releases it.
OPERATOR_HOLD_TYPES = frozenset({ErrorType.SUSPENDED, ErrorType.CAPTCHA, ErrorType.LOGGEDOUT})
# Account failures that hold the account until the platform's cooldown ends.
COOLDOWN_HOLD_TYPES = frozenset({ErrorType.RATE_LIMITED})


def category_of(error_type: str) -> str:
    """The category a type belongs to; '' (unrecognised) is unknown."""
    return CATEGORY_OF_TYPE.get(error_type, ErrorCategory.UNKNOWN)


def is_known_pair(category: str, error_type: str) -> bool:
    """True when (category, type) is a pair the taxonomy allows, success ('', '') included."""
    if error_type == "":
        return category in (ErrorCategory.NONE, ErrorCategory.UNKNOWN)
    return CATEGORY_OF_TYPE.get(error_type) == category


# Infrastructure types that say nothing about the phone: a worker process that died (killed
# host, deploy, OOM) would otherwise quarantine healthy devices.
DEVICE_HEALTH_EXEMPT_TYPES = frozenset({ErrorType.WORKER_LOST})
