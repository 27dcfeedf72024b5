"""Run the cluster and the web server together; Ctrl-C stops both."""

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
            subprocess.Popen([*manage, "qcluster"]),
            subprocess.Popen([*manage, "runserver", addr, "--noreload"]),
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
        self.stdout.write("stopping the web server and the cluster (running jobs finish first)")
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        grace = time.monotonic() + settings.JOB_TIMEOUT + 30
        for child in children:
            try:
                child.wait(timeout=max(1, grace - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
