from posting.models.account import Account
from posting.models.attempt import Attempt, AttemptCancelled, LeaseLost, Outcome
from posting.models.choices import (
    AccountStatus,
    AttemptOutcome,
    ErrorCategory,
    ErrorType,
    JobStatus,
    PauseScope,
    Platform,
)
from posting.models.cluster import ClusterHeartbeat
from posting.models.control import FleetControl, PauseSwitch
from posting.models.device_queue import DeviceQueue, without_live_runner
from posting.models.hourly_outcomes import HourlyOutcome
from posting.models.job import InvalidTransition, Job, Pass
from posting.models.pass_failures import PassFailure
from posting.models.pass_history import EntryReason, PassEntry

__all__ = [
    "Account",
    "AccountStatus",
    "Attempt",
    "AttemptCancelled",
    "AttemptOutcome",
    "ClusterHeartbeat",
    "DeviceQueue",
    "EntryReason",
    "ErrorCategory",
    "ErrorType",
    "FleetControl",
    "HourlyOutcome",
    "InvalidTransition",
    "Job",
    "JobStatus",
    "LeaseLost",
    "Outcome",
    "Pass",
    "PassEntry",
    "PassFailure",
    "PauseScope",
    "PauseSwitch",
    "Platform",
    "without_live_runner",
]
