"""What the benchmarks ran on: CPUs, load, the database and the broker, with versions."""

from __future__ import annotations

import os
import platform
import shutil
import sqlite3
import subprocess


def describe(env: dict) -> str:
    load = os.getloadavg()[0]
    cpus = f"{os.cpu_count()} CPUs (load {load:.1f} at start), {platform.machine()}"
    python = f"Python {platform.python_version()}"
    return f"{cpus}, {python}; database {_database(env)}; broker {_broker(env)}"


def _database(env: dict) -> str:
    if env.get("DATABASE_URL", "").startswith("postgres"):
        from fleetlab.services import postgres_bin

        bin_dir = postgres_bin()
        version = _version([str(bin_dir / "postgres"), "--version"]) if bin_dir else ""
        # "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        words = version.split()
        return f"PostgreSQL {words[2] if len(words) > 2 else '?'}"
    return f"SQLite {sqlite3.sqlite_version} (WAL)"


def _broker(env: dict) -> str:
    if env.get("REDIS_URL"):
        version = _version(["redis-server", "--version"]) if shutil.which("redis-server") else ""
        found = [w[2:] for w in version.split() if w.startswith("v=")]
        return f"Redis {found[0] if found else '?'}"
    return "django-q2 ORM (same database)"


def _version(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
    except OSError:
        return ""
