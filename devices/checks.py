"""System checks: every flow file parses (messages name the file, step and field), and the
Appium devices of a host do not share a port."""

from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from devices.backends.flows import FlowError, flow_dirs, parse_flow
from devices.ports import PORT_CAPABILITIES


@register()
def check_flow_files(app_configs, **kwargs) -> list:
    errors = []
    for folder in flow_dirs():
        if not folder.is_dir():
            errors.append(Error(f"APPIUM_FLOW_DIRS: {folder} is not a folder", id="devices.E002"))
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                parse_flow(path)
            except FlowError as exc:
                errors += [Error(f"{folder}/{p}", id="devices.E001") for p in exc.problems]
    return errors


@register(Tags.database)
def check_device_ports(app_configs, **kwargs) -> list:
    """Each Appium device of a host has its own local ports (the constraint covers each port
    kind alone; this also catches one device's systemPort being another's mjpegServerPort)."""
    from devices.models import Device, DeviceBackendName

    try:
        devices = list(
            Device.objects.filter(backend=DeviceBackendName.APPIUM).values_list(
                "name", "host", *PORT_CAPABILITIES
            )
        )
    except DatabaseError:
        return []  # not migrated yet
    errors, holders = [], {}
    for name, host, *ports in devices:
        if any(port is None for port in ports):
            errors.append(
                Warning(
                    f"Appium device {name} has no systemPort/mjpegServerPort yet.",
                    hint="Save it once (admin or register_device --update) to assign them.",
                    id="devices.W001",
                )
            )
        for port, capability in zip(ports, PORT_CAPABILITIES.values(), strict=True):
            if port is None:
                continue
            other = holders.setdefault((host, port), (name, capability))
            if other[0] != name:
                errors.append(
                    Error(
                        f"Host {host}: port {port} is {capability} of {name} and "
                        f"{other[1]} of {other[0]}; parallel sessions would collide.",
                        hint="Remove the pinned port from one device's capabilities.",
                        id="devices.E003",
                    )
                )
    return errors
