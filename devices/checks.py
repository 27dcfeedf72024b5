"""System check: every flow file parses, with messages naming the file, step and field."""

from django.core.checks import Error, register

from devices.backends.flows import FlowError, flow_dirs, parse_flow


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
