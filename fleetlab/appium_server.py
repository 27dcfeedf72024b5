"""A real Appium server with the fake driver, on a free loopback port."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from fleetlab.ports import free_port
from fleetlab.processes import ROOT

APPIUM = ROOT / "node_modules" / ".bin" / "appium"


def missing_reason() -> str | None:
    """Why a real Appium server cannot start here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (Debian: apt-get install nodejs npm)"
    if not APPIUM.exists():
        return "node_modules/.bin/appium is missing: run scripts/setup (npm ci)"
    if not (ROOT / "node_modules" / "@appium" / "fake-driver").is_dir():
        return "@appium/fake-driver is missing: run scripts/setup (npm ci)"
    return None


class AppiumServer:
    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> AppiumServer:
        log = open(self.log_path, "w")  # noqa: SIM115 (closed with the process)
        # With appium in the project's package.json, Appium uses the project as its home and
        # finds the fake driver among the installed packages.
        self.process = subprocess.Popen(
            [
                str(APPIUM),
                *("--address", "127.0.0.1", "--port", str(self.port), "--log-level", "warn"),
                # lets a test list open sessions (GET /appium/sessions) to prove they were quit
                *("--allow-insecure", "*:session_discovery"),
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.ready():
                return self
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"Appium did not start on {self.url}:\n{self.log_path.read_text()[-2000:]}"
        )

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/status", timeout=2) as response:
                return bool(json.load(response)["value"]["ready"])
        except (OSError, ValueError, KeyError):
            return False

    def sessions(self) -> list:
        with urllib.request.urlopen(self.url + "/appium/sessions", timeout=5) as response:
            return json.load(response)["value"]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
