"""Local ports for parallel UiAutomator2 sessions on one host.

Each session on a host binds `appium:systemPort` (the UiAutomator2 server on the phone,
forwarded to the host) and `appium:mjpegServerPort` on the host itself; two sessions with the
same port collide. Every Appium device gets its own pair from APPIUM_SYSTEM_PORTS and
APPIUM_MJPEG_PORTS, kept on the Device row where a unique constraint per host guards it; an
operator may pin a port in the capabilities, and a pinned port another device of the host
uses is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

# Device field -> the capability that carries it to Appium.
PORT_CAPABILITIES = {
    "system_port": "appium:systemPort",
    "mjpeg_server_port": "appium:mjpegServerPort",
}


@dataclass(frozen=True)
class PortUse:
    port: int
    device_name: str
    capability: str


def port_range(field: str) -> range:
    """The configured range a field's ports come from."""
    if field == "system_port":
        return settings.APPIUM_SYSTEM_PORTS
    return settings.APPIUM_MJPEG_PORTS


def pinned_port(capabilities: dict, field: str) -> int | None:
    """The port an operator pinned in the capabilities, or None. Raises ValueError when the
    value is not a port number."""
    name = PORT_CAPABILITIES[field]
    if name not in capabilities:
        return None
    value = capabilities[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 65535:
        raise ValueError(f"{name} must be a whole number between 1024 and 65535, not {value!r}")
    return value


def ports_in_use(host: str, exclude_pk: int | None = None) -> dict[int, PortUse]:
    """Every port the host's other devices hold, whichever capability they hold it for:
    all of them are local ports of the same machine."""
    from devices.models import Device

    others = Device.objects.filter(host=host).exclude(pk=exclude_pk)
    used: dict[int, PortUse] = {}
    for name, *ports in others.values_list("name", *PORT_CAPABILITIES):
        for field, port in zip(PORT_CAPABILITIES, ports, strict=True):
            if port is not None:
                used[port] = PortUse(port, name, PORT_CAPABILITIES[field])
    return used


def first_free(field: str, used: set[int]) -> int | None:
    """The lowest port of the field's range that nobody uses, or None when it is full."""
    return next((port for port in port_range(field) if port not in used), None)
