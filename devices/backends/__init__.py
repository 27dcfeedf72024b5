"""Backends drive one device: `simulator` (built in) and `appium` (Appium-Python-Client)."""

from devices.backends.base import (
    AutomationStuck,
    BackendClosed,
    BackendError,
    DeviceBackend,
    HealthReport,
    PostRequest,
    PrePostVerificationError,
    get_backend,
)

__all__ = [
    "AutomationStuck",
    "BackendError",
    "BackendClosed",
    "DeviceBackend",
    "HealthReport",
    "PostRequest",
    "PrePostVerificationError",
    "get_backend",
]
