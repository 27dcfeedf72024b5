"""The operator console: one module per model, shared display helpers and filters."""

from posting.admin import accounts, attempts, devices, jobs, passes, pauses  # noqa: F401
