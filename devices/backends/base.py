"""The contract between the posting layer and a device backend.

A backend gets a plain request and a set of hooks and returns True, returns False (with
`last_error_message`), or raises. It never sees a Job or an Attempt.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils.module_loading import import_string

from retries.taxonomy import ErrorType

if TYPE_CHECKING:
    from devices.models import Device


@dataclass(frozen=True)
class PostRequest:
    job_id: str
    account_handle: str
    video_path: str
    caption: str
    attempt_number: int = 1
    platform: str = ""


class AttemptHooks(Protocol):
    def checkpoint(self) -> None:
        """Commit "about to publish"; raises if the attempt may no longer publish."""

    def log(self, message: str) -> None:
        """Append a line to the attempt's own log."""

    def save_evidence(self, kind: str, extension: str, content: bytes) -> None:
        """Keep a file (screenshot, page source) with the attempt."""


class BackendError(Exception):
    """A failure the backend recognises: it carries its type from retries/taxonomy.py, so
    nothing downstream has to recover the type from the message's wording."""

    error_type: str = ""
    # How the error reads in the job's error column ('' reads as "ClassName: message").
    summary: str = ""


class PrePostVerificationError(BackendError):
    """The device does not show the job's account (or otherwise is not ready to post)."""

    error_type = ErrorType.VERIFICATION_RACE
    summary = "Pre-post verification failed"


class AutomationStuck(BackendError):
    """The flow ran but the app did not do what a step expected."""

    error_type = ErrorType.CLAUDE_STUCK


class BackendClosed(Exception):
    """The session was torn down from outside (the job deadline) while the backend worked."""


@dataclass(frozen=True)
class HealthReport:
    ok: bool
    detail: str = ""


class DeviceBackend(ABC):
    """Drives one device for one attempt. `close()` may be called from another thread."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.last_error_message = ""
        # The taxonomy type of a failure the backend recognised itself (a detector's), if any.
        self.last_error_type = ""
        self.post_url = ""

    @abstractmethod
    def post(self, request: PostRequest, hooks: AttemptHooks) -> bool:
        """Publish the video; call `hooks.checkpoint()` right before the irreversible tap."""

    @abstractmethod
    def was_published(self, request: PostRequest) -> bool | None:
        """Is the post there? None when this backend cannot tell."""

    def probe(self) -> HealthReport:
        """Is the device reachable and ready?"""
        return HealthReport(ok=True)

    def close(self) -> None:  # noqa: B027 (a backend without a session has nothing to close)
        """Tear the session down; a blocked `post()` must then fail promptly."""


BACKENDS = {
    "simulator": "devices.backends.simulator.SimulatorBackend",
    "appium": "devices.backends.appium.AppiumBackend",
}


def get_backend(device: Device) -> DeviceBackend:
    """A fresh backend instance for the device."""
    if device.backend not in BACKENDS:
        raise ValueError(f"device {device.name!r} has an unknown backend {device.backend!r}")
    return _backend_class(device.backend)(device)


@functools.cache
def _backend_class(name: str) -> type[DeviceBackend]:
    # Imported once per process, not looked up again for every attempt.
    return import_string(BACKENDS[name])
