"""Backends drive one device: `simulator` (built in) and `appium` (Appium-Python-Client)."""

from devices.backends.base import (
    BackendClosed,
    DeviceBackend,
    HealthReport,
    PostRequest,
    PrePostVerificationError,
    get_backend,
)

__all__ = [
    "BackendClosed",
    "DeviceBackend",
    "HealthReport",
    "PostRequest",
    "PrePostVerificationError",
    "get_backend",
]
