"""Run Fleetpost as real processes (manage.py, qcluster) on a throw-away database.

The tests read results straight from the database file, never through the processes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Short leases, fast sweeps and retries so recovery happens within a test's patience.
FAST_ENV = {
    "LEASE_SECONDS": "3",
    "CLUSTER_HEARTBEAT_SECONDS": "0.5",
    "SWEEP_SECONDS": "1",
    "RETRY_DELAY_MINUTES": "0.005",
    "RETRY_MAX_DELAY_MINUTES": "0.02",
    "RETRY_JITTER": "0",
    "DEVICE_IDLE_WAIT": "3",
    "DEVICE_TASK_BUDGET": "60",
    "JOB_TIMEOUT": "5",
    "WAKE_DEBOUNCE_SECONDS": "5",
    "QUARANTINE_AFTER": "50",
    "Q_POLL": "0.05",
    "LOG_LEVEL": "WARNING",
}


class Fleet:
    """A Fleetpost installation in a temporary folder, driven through manage.py."""

    def __init__(self, folder: Path, **env: str) -> None:
        self.folder = folder
        self.db_path = folder / "fleet.sqlite3"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "FLEETPOST_VAR_DIR": str(folder),
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "REDIS_URL": "",
            "PYTHONUNBUFFERED": "1",
            **FAST_ENV,
            **env,
        }
        self.clusters: list[subprocess.Popen] = []

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
        return done

    def setup(self, devices: list[dict], jobs_csv: str) -> None:
        """Migrate, register devices (a fixture) and import the jobs."""
        self.register_devices(devices)
        csv_path = self.folder / "jobs.csv"
        csv_path.write_text(jobs_csv, encoding="utf-8")
        self.manage("import_jobs", str(csv_path))

    def register_devices(self, devices: list[dict]) -> None:
        """Migrate and register devices (a fixture)."""
        self.manage("migrate", "-v0")
        fixture = self.folder / "devices.json"
        fixture.write_text(
            json.dumps(
                [
                    {
                        "model": "devices.device",
                        "pk": n,
                        "fields": {"host": "local", "created_at": "2026-01-01T00:00:00Z", **d},
                    }
                    for n, d in enumerate(devices, start=1)
                ]
            )
        )
        self.manage("loaddata", str(fixture))

    def start_cluster(
        self, name: str = "local", command: tuple[str, ...] = ("manage.py", "qcluster"), **env: str
    ) -> subprocess.Popen:
        """A qcluster in its own process group and session, so a test can kill it whole."""
        log = open(self.folder / f"cluster-{name}-{len(self.clusters)}.log", "w")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=ROOT,
            env={**self.env, "Q_CLUSTER_NAME": name, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.clusters.append(process)
        return process

    def kill_group(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.clusters:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        for process in self.clusters:
            try:
                process.wait(timeout=max(1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Orphaned workers of a killed master may outlive it: end every process of ours.
        for process in self.clusters:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    @property
    def on_postgres(self) -> bool:
        return self.env["DATABASE_URL"].startswith(("postgres://", "postgresql://"))

    def query(self, sql: str, *params) -> list:
        """Rows (mapping-like) of a read-only query, on SQLite or PostgreSQL ("?" params)."""
        if self.on_postgres:
            import psycopg
            from psycopg.rows import dict_row

            with psycopg.connect(self.env["DATABASE_URL"], row_factory=dict_row) as connection:
                return connection.execute(sql.replace("?", "%s"), params).fetchall()
        connection = sqlite3.connect(self.db_path, timeout=30)
        connection.row_factory = sqlite3.Row
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def wait_until(
        self, condition: Callable[[], bool], *, timeout: float, what: str, poll: float = 0.5
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(poll)
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.folder.glob("*.log"))
        )
        raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.folder.glob("*.log")))


def as_naive_utc(value) -> datetime:
    """A naive UTC datetime from SQLite's text or PostgreSQL's aware datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None)


def overlaps(intervals: list[tuple]) -> int:
    """How many consecutive pairs of (start, end) intervals overlap (ISO strings or datetimes)."""
    ordered = sorted(intervals)
    return sum(
        1
        for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False)
        if end is None or start < end
    )
