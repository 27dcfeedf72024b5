"""Benchmark scenarios. Each runs on a throw-away database (never the operator's) and measures
Fleetpost's figure against a floor measured in the same run, on the same machine and data: the
ratio means the same on any machine, where absolute times do not.

Scenarios that need real clusters drive them through `Fleet`; the others run their steps
(`fleetlab.bench_steps`) in a child process pointed at the throw-away database.
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from fleetlab.bench_report import Result, ratio, speedup
from fleetlab.cpu import session_cpu_seconds, session_processes
from fleetlab.processes import ROOT, Fleet, as_naive_utc
from fleetlab.stats import percentile

SCENARIOS = ["import", "update_job_status", "orchestration", "idle_gap", "requeue", "admin"]
DEFAULT_SIZES = {
    "import": 100_000,
    "update_job_status": 100_000,
    "orchestration": 2000,
    "idle_gap": 300,
    "requeue": 50_000,
    "admin": 100_000,
}

# A cluster measured here runs as in production: DEBUG off (no query log in every worker),
# and the product's own defaults for what the tests' FAST_ENV shortens (heartbeat, sweep, poll).
PRODUCT_PACE = {
    "DEBUG": "false",
    "SECRET_KEY": "fleetpost-bench-" + "k" * 40,
    "LEASE_SECONDS": "30",
    "CLUSTER_HEARTBEAT_SECONDS": "5",
    "SWEEP_SECONDS": "10",
    "DEVICE_IDLE_WAIT": "5",
    "DEVICE_TASK_BUDGET": "300",
    "JOB_TIMEOUT": "600",
    "WAKE_DEBOUNCE_SECONDS": "60",
    "Q_POLL": "0.2",
    "LOG_LEVEL": "ERROR",
}


def _jobs_csv(path: Path, jobs: int, devices: list[str], prefix: str = "B") -> None:
    with open(path, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["job_id", "account", "video_path", "caption", "device"])
        for n in range(jobs):
            device = devices[n % len(devices)]
            writer.writerow([f"{prefix}{n:07d}", f"@{device}", f"{n}.mp4", f"bench {n}", device])


def step(fleet: Fleet, name: str, *args) -> dict:
    """Run one `fleetlab.bench_steps` function in a child process on the fleet's database."""
    done = subprocess.run(
        [sys.executable, "-m", "fleetlab.run_step", name, *map(str, args)],
        cwd=ROOT,
        env=fleet.env,
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench step {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- import ----------------------------------------------------------------------------------


def import_rows(folder: Path, size: int, env: dict) -> Result:
    """import_jobs against the csv module + one raw insert of the same file; peak memory at
    the full size and at a fifth of it."""
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    fleet.manage("register_device", "imp-1")
    figures = {}
    for rows in (size // 5, size):
        path = folder / f"jobs-{rows}.csv"
        _jobs_csv(path, rows, ["imp-1"])
        if figures:
            step(fleet, "clear_jobs")
        figures[rows] = step(fleet, "import_file", path)
    floor = step(fleet, "import_floor", folder / f"jobs-{size}.csv")
    big, small = figures[size], figures[size // 5]
    seconds = big["seconds"]
    growth_mb = (big["peak_kb"] - big["before_kb"]) / 1024
    small_growth_mb = (small["peak_kb"] - small["before_kb"]) / 1024
    flat = growth_mb <= 1.25 * small_growth_mb + 8
    times = seconds / floor["seconds"]
    return Result(
        "import",
        f"{size:,} rows in {seconds:.2f} s ({size / seconds:,.0f}/s), +{growth_mb:.0f} MB",
        f"{floor['seconds']:.2f} s (csv + raw insert)",
        ratio(times),
        "<= 2x, flat memory",
        times <= 2 and flat,
        [
            f"memory grew {growth_mb:.0f} MB at {size:,} rows, {small_growth_mb:.0f} MB at "
            f"{size // 5:,} rows ({'flat' if flat else 'grows with the file'}); peak RSS "
            f"{big['peak_kb'] / 1024:.0f} MB",
            f"floor: csv.reader + {'COPY' if fleet.on_postgres else 'executemany'} into an "
            "empty copy of posting_job with its indexes and foreign keys, in one transaction",
        ],
    )


# --- update_job_status -----------------------------------------------------------------------


def update_job_status(folder: Path, size: int, env: dict) -> Result:
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    figures = step(fleet, "update_job_status", size)
    ours, legacy = figures["seconds"], figures["legacy_seconds"]
    faster = legacy / ours
    return Result(
        "update_job_status",
        f"{ours * 1000:.2f} ms per call at {size:,} jobs",
        f"{legacy * 1000:.1f} ms (CSV tracker, {size:,} jobs)",
        speedup(faster),
        ">= x100 faster",
        faster >= 100,
        [
            f"{figures['calls']} calls (3 successes to 1 classified failure) against "
            f"{figures['legacy_calls']} of the legacy tracker: lock, read the whole progress "
            "file, rewrite it"
        ],
    )


# --- orchestration ---------------------------------------------------------------------------


def _start_and_settle(fleet: Fleet, processes: int, **options) -> int:
    """Start a cluster and wait until its processes are all up and idle; its session id."""
    cluster = fleet.start_cluster(**options)
    fleet.wait_until(
        lambda: session_processes(cluster.pid) >= processes,
        timeout=120,
        what=f"{processes} cluster processes",
    )
    time.sleep(3)  # start-up (imports, forks, schedules) is not what we measure
    return cluster.pid


def _cluster_cpu(fleet: Fleet, session: int, start_work, done, size: int) -> tuple[float, float]:
    """CPU seconds of the cluster's whole process tree, and wall seconds, for the work."""
    cpu, wall = session_cpu_seconds(session), time.monotonic()
    start_work()
    fleet.wait_until(done, timeout=max(300, size / 5), what=f"{size} jobs", poll=0.1)
    return session_cpu_seconds(session) - cpu, time.monotonic() - wall


# One round's ratio moves by a tenth or more with the machine's noise (the floor alone between
# 1.9 and 3.0 ms per task on the same machine): the verdict is on the median of rounds that
# alternate the two clusters, so a drift of the machine's speed falls on both.
ORCHESTRATION_ROUNDS = 3
NOOP = "fleetlab.bench_steps.noop"  # the task bare django-q2 runs (fleetlab.bench_steps)
NOOPS_DONE = f"SELECT COUNT(*) AS n FROM django_q_task WHERE func = '{NOOP}'"
LEASES_HELD = "SELECT COUNT(*) AS n FROM posting_devicequeue WHERE runner_token IS NOT NULL"
# Bare django-q2's queue and cluster name: on PostgreSQL it shares the database with the posting
# cluster, whose schedules (the sweep, the daily prune) are bound to the posting cluster's name
# and would otherwise run in the floor's cluster, and whose device tasks would share its queue.
BARE_CLUSTER = "bare-django-q2"


def orchestration(folder: Path, size: int, env: dict, devices: int = 8) -> Result:
    """CPU seconds per job over every process of the cluster (master, sentinel, pusher,
    monitor, workers) with zero-latency posts, against bare django-q2's per no-op task, in
    ORCHESTRATION_ROUNDS rounds of each, alternated; the figures of the median round."""
    names = [f"bench-{n}" for n in range(devices)]
    fleet = Fleet(folder / "fleet", Q_WORKERS=str(devices + 1), **PRODUCT_PACE, **env)
    fleet.folder.mkdir(parents=True, exist_ok=True)
    fleet.register_devices([{"name": n, "capabilities": {}} for n in names])
    bare = Fleet(
        folder / "bare",
        Q_WORKERS=str(devices),
        Q_SAVE_LIMIT="0",
        Q_CLUSTER_NAME=BARE_CLUSTER,
        **PRODUCT_PACE,
        **env,
    )
    bare.folder.mkdir(parents=True, exist_ok=True)
    bare.manage("migrate", "-v0")
    rounds = []
    for n in range(ORCHESTRATION_ROUNDS):
        fleet_cpu, fleet_wall = _posting_round(fleet, names, size, n)
        bare_cpu, bare_wall = _noop_round(bare, devices, size)
        rounds.append((fleet_cpu / bare_cpu, fleet_cpu, fleet_wall, bare_cpu, bare_wall))
    times, fleet_cpu, fleet_wall, bare_cpu, bare_wall = sorted(rounds)[len(rounds) // 2]
    per_job, per_task = fleet_cpu / size, bare_cpu / size
    return Result(
        "orchestration",
        f"{per_job * 1000:.2f} ms CPU per job",
        f"{per_task * 1000:.2f} ms CPU per no-op task (bare django-q2)",
        ratio(times),
        "<= 1x",
        times <= 1,
        [
            f"median of {len(rounds)} rounds; each round's ratio: "
            + ", ".join(ratio(r[0]) for r in rounds),
            f"median round: {size:,} zero-latency jobs on {devices} simulated devices: "
            f"{fleet_cpu:.1f} CPU s over all cluster processes, {fleet_wall:.1f} s wall "
            f"({size / fleet_wall:,.0f} jobs/s); bare django-q2, {size:,} no-op tasks on "
            f"{devices} workers: {bare_cpu:.1f} CPU s, {bare_wall:.1f} s wall "
            f"({size / bare_wall:,.0f} tasks/s)",
        ],
    )


def _posting_round(fleet: Fleet, names: list[str], size: int, n: int) -> tuple[float, float]:
    """Round n of Fleetpost's cluster: `size` more jobs imported into a cluster just started,
    run to success; its CPU and wall seconds."""
    jobs = fleet.folder / f"jobs-{n}.csv"
    _jobs_csv(jobs, size, names, prefix=f"B{n}-")
    done = "SELECT COUNT(*) AS n FROM posting_job WHERE status = 'success'"
    try:
        session = _start_and_settle(fleet, len(names) + 4)
        measured = _cluster_cpu(
            fleet,
            session,
            lambda: fleet.manage("import_jobs", str(jobs)),
            lambda: fleet.query(done)[0]["n"] >= size * (n + 1),
            size,
        )
        # A runner stopped before it hands its device over would hold the device's lease
        # into the next round, whose wake-up would then wait for the sweep.
        fleet.wait_until(
            lambda: fleet.query(LEASES_HELD)[0]["n"] == 0, timeout=60, what="leases released"
        )
        return measured
    finally:
        fleet.stop_all()


def _noop_round(bare: Fleet, workers: int, size: int) -> tuple[float, float]:
    """A round of bare django-q2: `size` no-op tasks through a cluster just started."""
    try:
        session = _start_and_settle(
            bare, workers + 3, name=BARE_CLUSTER, command=("-m", "fleetlab.bare_cluster")
        )
        return _cluster_cpu(
            bare,
            session,
            lambda: step(bare, "enqueue_noops", size),
            # Its own tasks only: on PostgreSQL the posting cluster's tasks share the table.
            lambda: bare.query(NOOPS_DONE)[0]["n"] >= size,
            size,
        )
    finally:
        bare.stop_all()
        step(bare, "forget_noops")


# --- idle gap --------------------------------------------------------------------------------


def idle_gap(folder: Path, size: int, env: dict, devices: int = 10) -> Result:
    """Gaps between a device's attempts while it has work, and device utilisation."""
    names = [f"gap-{n}" for n in range(devices)]
    fleet = Fleet(folder, Q_WORKERS=str(devices + 1), **PRODUCT_PACE, **env)
    _jobs_csv(folder / "jobs.csv", size, names)
    caps = {"latency_ms": 500}
    fleet.setup(
        [{"name": n, "capabilities": caps} for n in names], (folder / "jobs.csv").read_text()
    )
    try:
        fleet.start_cluster()
        fleet.wait_until(
            lambda: (
                fleet.query("SELECT COUNT(*) AS n FROM posting_job WHERE status = 'success'")[0][
                    "n"
                ]
                >= size
            ),
            timeout=max(300, size),
            what=f"{size} jobs",
            poll=0.25,
        )
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
    p95, used = percentile(gaps, 95), 100 * statistics.mean(utilisation)
    return Result(
        "idle_gap",
        f"gap p95 {p95:.1f} ms, utilisation {used:.1f}%",
        "500 ms post (simulated)",
        f"{used / 100:.3f} busy",
        "p95 <= 100 ms, >= 95% busy",
        p95 <= 100 and used >= 95,
        [f"{size} jobs of 500 ms on {devices} devices; gap p50 {percentile(gaps, 50):.1f} ms"],
    )


# --- requeue ---------------------------------------------------------------------------------


def requeue(folder: Path, size: int, env: dict) -> Result:
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    figures = step(fleet, "requeue", size)
    seconds, floor = figures["seconds"], figures["floor_seconds"]
    details = [f"{figures['jobs']:,} failed jobs into pass {figures['pass']}"]
    # The target is set for the embedded SQLite. On PostgreSQL an UPDATE writes a new version
    # of each row and an entry in every index, so the floor alone can exceed it: the figure and
    # its ratio are reported, without a verdict.
    if fleet.on_postgres:
        details.append("the 0.5 s target is SQLite's; on PostgreSQL the ratio is reported")
    return Result(
        "requeue",
        f"{figures['jobs']:,} jobs in {seconds:.2f} s, {figures['queries']} queries",
        f"{floor:.2f} s (one raw UPDATE)",
        ratio(seconds / floor),
        "<= 0.5 s on SQLite",
        None if fleet.on_postgres else seconds <= 0.5,
        details,
    )


# --- admin -----------------------------------------------------------------------------------

ADMIN_TARGET_MS = 150


def admin(folder: Path, size: int, env: dict) -> Result:
    fleet = Fleet(folder, **env)
    fleet.manage("migrate", "-v0")
    figures = step(fleet, "admin", size)
    small, big = figures["small"], figures["big"]
    worst = max(big, key=lambda name: big[name][0])
    same_queries = all(big[name][1] == small[name][1] for name in big)
    slow = [name for name in big if big[name][0] > ADMIN_TARGET_MS]
    return Result(
        "admin",
        f"slowest: {worst} {big[worst][0]:.0f} ms; "
        + ("same queries" if same_queries else "MORE QUERIES"),
        f"{small[worst][0]:.0f} ms ({worst} at 100 jobs)",
        ratio(big[worst][0] / small[worst][0]),
        f"each <= {ADMIN_TARGET_MS} ms, same queries",
        same_queries and not slow,
        [
            f"{figures['jobs']:,} jobs, {figures['attempts']:,} attempts, per page (at 100 "
            "jobs): "
            + "; ".join(
                f"{name} {ms:.0f} ms/{q}q ({small[name][0]:.0f} ms/{small[name][1]}q)"
                for name, (ms, q) in big.items()
            )
        ],
    )


RUNNERS = {
    "import": import_rows,
    "update_job_status": update_job_status,
    "orchestration": orchestration,
    "idle_gap": idle_gap,
    "requeue": requeue,
    "admin": admin,
}


def run(scenario: str, folder: Path, size: int | None, env: dict) -> Result:
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = RUNNERS[scenario](folder, size or DEFAULT_SIZES[scenario], env)
    result.details.append(f"measured in {time.monotonic() - started:.0f} s")
    return result
