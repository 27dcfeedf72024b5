"""Benchmark scenarios. Each runs on a throw-away database (never the operator's) and returns
one line of figures; `manage.py bench` prints them.

Scenarios that need real clusters drive them through `Fleet`; the others run inside a child
`manage.py bench --inside` process pointed at the throw-away database.
"""

from __future__ import annotations

import csv
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

from fleetlab.processes import ROOT, Fleet, as_naive_utc
from fleetlab.stats import percentile

SCENARIOS = ["overhead", "idle_gap", "import", "requeue", "admin"]
DEFAULT_SIZES = {
    "overhead": 2000,
    "idle_gap": 300,
    "import": 100_000,
    "requeue": 50_000,
    "admin": 100_000,
}


def describe_backend(env: dict) -> str:
    database = "postgresql" if env.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    broker = "redis" if env.get("REDIS_URL") else "orm"
    return f"db={database} broker={broker} cpus={os.cpu_count()}"


def _jobs_csv(path: Path, jobs: int, devices: list[str]) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["job_id", "account", "video_path", "caption", "device"])
        for n in range(jobs):
            device = devices[n % len(devices)]
            writer.writerow([f"B{n:07d}", f"@{device}", f"{n}.mp4", f"bench {n}", device])


def _wait_all_done(fleet: Fleet, jobs: int, timeout: float) -> None:
    def done() -> bool:
        rows = fleet.query("SELECT COUNT(*) AS n FROM posting_job WHERE status = 'success'")
        return rows[0]["n"] >= jobs

    fleet.wait_until(done, timeout=timeout, what=f"{jobs} jobs", poll=0.25)


def _span_seconds(rows, start: str, end: str) -> float:
    starts = [as_naive_utc(r[start]) for r in rows]
    ends = [as_naive_utc(r[end]) for r in rows if r[end]]
    return (max(ends) - min(starts)).total_seconds()


def overhead(folder: Path, size: int, env: dict, devices: int = 8) -> str:
    """Orchestration time per job with zero-latency posts, against bare django-q2."""
    names = [f"bench-{n}" for n in range(devices)]
    fleet = Fleet(folder / "fleet", Q_WORKERS=str(devices + 1), LOG_LEVEL="ERROR", **env)
    fleet.folder.mkdir(parents=True, exist_ok=True)
    _jobs_csv(fleet.folder / "jobs.csv", size, names)
    fleet.setup(
        [{"name": n, "capabilities": {}} for n in names], (fleet.folder / "jobs.csv").read_text()
    )
    try:
        fleet.start_cluster()
        _wait_all_done(fleet, size, timeout=max(300, size / 5))
    finally:
        fleet.stop_all()
    attempts = fleet.query("SELECT started_at, finished_at FROM posting_attempt")
    wall = _span_seconds(attempts, "started_at", "finished_at")
    per_job_ms = devices * wall / size * 1000

    bare = Fleet(
        folder / "bare", Q_WORKERS=str(devices), LOG_LEVEL="ERROR", Q_SAVE_LIMIT="0", **env
    )
    bare.folder.mkdir(parents=True, exist_ok=True)
    bare.manage("migrate", "-v0")
    bare.manage("bench", "--inside", "enqueue_noops", "--size", str(size))
    try:
        bare.start_cluster()

        def drained() -> bool:
            return bare.query("SELECT COUNT(*) AS n FROM django_q_task")[0]["n"] >= size

        bare.wait_until(drained, timeout=max(300, size / 5), what="bare tasks", poll=0.25)
    finally:
        bare.stop_all()
    tasks = bare.query("SELECT started, stopped FROM django_q_task")
    bare_wall = _span_seconds(tasks, "started", "stopped")
    per_task_ms = devices * bare_wall / size * 1000
    return (
        f"overhead: {size} jobs on {devices} devices in {wall:.1f} s = {size / wall:.0f} jobs/s, "
        f"{per_job_ms:.1f} ms orchestration per job; bare django-q2 {per_task_ms:.1f} ms per "
        f"task; ratio {per_job_ms / per_task_ms:.2f}x (targets: <= 15 ms, <= 3x)"
    )


def idle_gap(folder: Path, size: int, env: dict, devices: int = 10) -> str:
    """Gaps between a device's attempts while it has work, and device utilisation."""
    names = [f"gap-{n}" for n in range(devices)]
    fleet = Fleet(folder, Q_WORKERS=str(devices + 1), LOG_LEVEL="ERROR", **env)
    _jobs_csv(folder / "jobs.csv", size, names)
    caps = {"latency_ms": 500}
    fleet.setup(
        [{"name": n, "capabilities": caps} for n in names], (folder / "jobs.csv").read_text()
    )
    try:
        fleet.start_cluster()
        _wait_all_done(fleet, size, timeout=max(300, size))
    finally:
        fleet.stop_all()
    rows = fleet.query("SELECT device_id, started_at, finished_at FROM posting_attempt")
    by_device = defaultdict(list)
    for r in rows:
        by_device[r["device_id"]].append(
            (as_naive_utc(r["started_at"]), as_naive_utc(r["finished_at"]))
        )
    gaps, utilisation = [], []
    for spans in by_device.values():
        spans.sort()
        gaps += [
            (b[0] - a[1]).total_seconds() * 1000 for a, b in zip(spans, spans[1:], strict=False)
        ]
        # Backend time is the simulated post itself (500 ms); the rest is Fleetpost's.
        utilisation.append(0.5 * len(spans) / (spans[-1][1] - spans[0][0]).total_seconds())
    return (
        f"idle_gap: {size} jobs of 500 ms on {devices} devices: gap p50 "
        f"{percentile(gaps, 50):.1f} ms, p95 {percentile(gaps, 95):.1f} ms, utilisation "
        f"{100 * statistics.mean(utilisation):.1f}% (targets: p95 <= 100 ms, >= 95%)"
    )


def import_rows(folder: Path, size: int, env: dict) -> str:
    """import_jobs speed and peak memory on a generated file; memory at a fifth of the size."""
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    fleet.manage("register_device", "imp-1")
    figures = []
    for rows in (size // 5, size):
        sub = folder / f"{rows}"
        sub.mkdir()
        path = sub / "jobs.csv"
        _jobs_csv(path, rows, ["imp-1"])
        child = Fleet(sub, **{**env, "DATABASE_URL": fleet.env["DATABASE_URL"]})
        if rows != size // 5:
            child.manage("bench", "--inside", "clear_jobs")
        started = time.monotonic()
        measured = subprocess.run(
            [
                sys.executable,
                "-c",
                _MAXRSS_WRAPPER,
                sys.executable,
                "manage.py",
                "import_jobs",
                str(path),
            ],
            cwd=ROOT,
            env=child.env,
            capture_output=True,
            text=True,
            check=True,
        )
        seconds = time.monotonic() - started
        peak_mb = int(measured.stdout.strip().splitlines()[-1]) / 1024
        figures.append((rows, rows / seconds, peak_mb))
    (small, _, small_mb), (big, rate, big_mb) = figures
    return (
        f"import: {big} rows at {rate:,.0f} rows/s, peak memory {big_mb:.0f} MB "
        f"({small} rows: {small_mb:.0f} MB) (targets: >= 20,000 rows/s, flat memory)"
    )


_MAXRSS_WRAPPER = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
    "stdout=subprocess.DEVNULL); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def inside(scenario: str, size: int) -> str:
    """Run an in-process scenario in this (child) process; returns its line or JSON."""
    from fleetlab import bench_inside

    return getattr(bench_inside, scenario)(size)


def in_child(folder: Path, scenario: str, size: int, env: dict) -> str:
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    done = fleet.manage("bench", "--inside", scenario, "--size", str(size))
    return done.stdout.strip().splitlines()[-1]


def run(scenario: str, folder: Path, size: int | None, env: dict) -> str:
    size = size or DEFAULT_SIZES[scenario]
    folder.mkdir(parents=True, exist_ok=True)
    started = datetime.now()
    if scenario == "overhead":
        line = overhead(folder, size, env)
    elif scenario == "idle_gap":
        line = idle_gap(folder, size, env)
    elif scenario == "import":
        line = import_rows(folder, size, env)
    else:
        line = in_child(folder, scenario, size, env)
    elapsed = (datetime.now() - started).total_seconds()
    return f"{line} [{describe_backend(env)}, bench {elapsed:.0f} s]"
