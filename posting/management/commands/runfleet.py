"""Run the cluster and the web server together; Ctrl-C stops both."""

import contextlib
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start `qcluster` and the web server together (development); Ctrl-C stops both."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, addr: str, **options):
        manage = [sys.executable, sys.argv[0]]
        children = [
            # Each in its own process group, so a forced stop can reach qcluster's workers.
            subprocess.Popen([*manage, "qcluster"], process_group=0),
            subprocess.Popen([*manage, "runserver", addr, "--noreload"], process_group=0),
        ]
        stopping = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.append(True))
        self.stdout.write(
            self.style.SUCCESS(
                f"Fleetpost is running: http://{addr}/admin/ "
                "(demo login: admin / admin). Ctrl-C stops it."
            )
        )
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.5)
        self.stop(children)
        return

    def stop(self, children: list[subprocess.Popen]) -> None:
        self.stdout.write(
            "stopping the web server and the cluster (running jobs finish first; "
            "Ctrl-C again stops at once, and the next start recovers what was running)"
        )
        again = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: again.append(True))
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        # A hung job may hold its worker until JOB_TIMEOUT tears its session down.
        grace = time.monotonic() + settings.JOB_TIMEOUT + 30
        while not again and time.monotonic() < grace:
            if all(child.poll() is not None for child in children):
                return
            time.sleep(0.2)
        for child in children:
            _kill_with_its_processes(child)


def _kill_with_its_processes(child: subprocess.Popen) -> None:
    """SIGKILL the child and everything left in its process group (qcluster's workers too,
    which may outlive their master)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
