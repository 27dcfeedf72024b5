"""The benchmark harness is a development tool: the product never imports it, and it is an
installed app (with `manage.py bench`) only where DEV_TOOLS says so."""

import ast
import os
import subprocess
import sys
from pathlib import Path

from fleetlab.processes import ROOT

PRODUCT = ["config", "posting", "devices", "retries"]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("fleetlab.")
        ):
            names.add(node.value)  # dotted paths handed to import_string or django-q
    return names


def test_no_product_module_imports_the_development_tools():
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for name in imported_modules(path)
        if name == "fleetlab" or name.startswith("fleetlab.")
    ]
    assert offenders == []


def installed_apps(**env: str) -> list[str]:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(','.join(settings.INSTALLED_APPS))",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split(",")


PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "x" * 50, "DEV_TOOLS": ""}


def test_development_installs_the_tools_and_production_does_not():
    assert "fleetlab" in installed_apps(DEBUG="true", DEV_TOOLS="")
    assert "fleetlab" not in installed_apps(**PRODUCTION)
    assert "fleetlab" in installed_apps(**{**PRODUCTION, "DEV_TOOLS": "true"})
    assert "fleetlab" not in installed_apps(DEBUG="true", DEV_TOOLS="false")


def test_a_malformed_dev_tools_setting_stops_the_start():
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DEV_TOOLS": "maybe"},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "DEV_TOOLS must be true or false, not 'maybe'" in done.stderr


def test_without_the_tools_there_is_no_bench_command(tmp_path):
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "--help"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEV_TOOLS": "false",
            "FLEETPOST_VAR_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "Unknown command: 'bench'" in done.stderr
