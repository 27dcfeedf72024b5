"""Validating readers for settings that come from the environment.

Each helper refuses a malformed value with a message naming the variable, so a typo in a
deployment stops the process at start-up instead of running with a silent default.
"""

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_port_range(name: str, default: tuple[int, int]) -> range:
    """A range of TCP ports written `first-last` (inclusive), inside 1024-65535."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        first, last = default
    else:
        try:
            first, last = (int(part) for part in raw.split("-"))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be a port range like 8200-8299, not {raw!r}"
            ) from None
    if not 1024 <= first <= last <= 65535:
        raise ImproperlyConfigured(
            f"{name} must be first-last with 1024 <= first <= last <= 65535, not {first}-{last}"
        )
    return range(first, last + 1)
