from posting.models.account import Account
from posting.models.attempt import Attempt, AttemptCancelled, LeaseLost
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
from posting.models.job import InvalidTransition, Job, Pass

__all__ = [
    "Account",
    "AccountStatus",
    "Attempt",
    "AttemptCancelled",
    "AttemptOutcome",
    "ClusterHeartbeat",
    "ErrorCategory",
    "ErrorType",
    "FleetControl",
    "InvalidTransition",
    "Job",
    "JobStatus",
    "LeaseLost",
    "Pass",
    "PauseScope",
    "PauseSwitch",
    "Platform",
]
