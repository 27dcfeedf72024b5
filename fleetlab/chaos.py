"""The kill scenario: clusters killed at random moments while jobs run, then an audit.

Used by tests/test_kill.py (200 jobs) and scripts/chaos.py (any size, one line of figures).
"""

from __future__ import annotations

import csv
import io
import os
import random
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from fleetlab.processes import Fleet, as_naive_utc, overlaps
from fleetlab.stats import percentile


@dataclass(frozen=True)
class ChaosConfig:
    jobs: int = 200
    devices: int = 6
    group_kills: int = 3
    master_kills: int = 1
    crash_every: int = 25
    hang_every: int = 29
    latency_ms: tuple[int, int] = (100, 400)
    seed: int = 1
    gap_seconds: tuple[float, float] = (2.0, 4.0)
    finish_timeout: float = 600.0


@dataclass
class ChaosResult:
    jobs: int
    kills: int
    attempts: int = 0
    lost: int = 0
    lost_unclassified: int = 0
    double_successes: int = 0
    database_locked: int = 0
    tracebacks: int = 0
    duplicate_publishes: int = 0
    device_overlaps: int = 0
    job_overlaps: int = 0
    unaccounted: list[str] = field(default_factory=list)
    reviews_without_reason: list[str] = field(default_factory=list)
    crash_jobs: dict[str, tuple[str, int]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    recovery_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0

    def line(self) -> str:
        p50, p95 = percentile(self.recovery_seconds, 50), percentile(self.recovery_seconds, 95)
        crashed_ok = sum(1 for s, n in self.crash_jobs.values() if s == "success" and n == 1)
        return (
            f"chaos: jobs={self.jobs} kills={self.kills} attempts={self.attempts} "
            f"lost={self.lost} unclassified={self.lost_unclassified} "
            f"duplicate_publishes={self.duplicate_publishes} "
            f"double_recorded={self.double_successes} db_locked={self.database_locked} "
            f"tracebacks={self.tracebacks} "
            f"overlaps(device/job)={self.device_overlaps}/{self.job_overlaps} "
            f"crash_after_publish_verified={crashed_ok}/{len(self.crash_jobs)} "
            f"unaccounted={len(self.unaccounted)} "
            f"kill_to_next_attempt_p50={p50:.1f}s p95={p95:.1f}s "
            f"statuses={dict(sorted(self.statuses.items()))} wall={self.wall_seconds:.0f}s"
        )


def build_jobs(config: ChaosConfig) -> tuple[list[dict], str, set[str]]:
    """Devices (random latency, failure rates, scripted crashes and hangs) and the jobs CSV."""
    names = [f"chaos-{n}" for n in range(1, config.devices + 1)]
    scripts: dict[str, dict] = defaultdict(dict)
    crash_jobs = set()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["job_id", "account", "video_path", "caption", "device"])
    for n in range(config.jobs):
        device = names[n % len(names)]
        job_id = f"C{n:05d}"
        if n % config.crash_every == 7:
            scripts[device][job_id] = ["crash_after_publish"]
            crash_jobs.add(job_id)
        elif n % config.hang_every == 11:
            scripts[device][job_id] = ["hang", "success"]
        writer.writerow([job_id, f"@{device}-acct{n % 3}", f"{n}.mp4", f"chaos {n}", device])
    rates = {"adb_timeout": 0.04, "connection_dropped": 0.03, "claude_stuck": 0.02}
    devices = [
        {
            "name": name,
            "capabilities": {
                "latency_ms": list(config.latency_ms),
                "failure_rates": rates,
                "script": scripts[name],
                "seed": config.seed,
            },
        }
        for name in names
    ]
    return devices, out.getvalue(), crash_jobs


def run_chaos(folder: Path, config: ChaosConfig, log=print, **env: str) -> ChaosResult:
    """Run the scenario in `folder` (env may name DATABASE_URL, REDIS_URL) and audit it."""
    fleet = Fleet(folder, Q_WORKERS=str(config.devices + 2), **env)
    devices, jobs_csv, crash_jobs = build_jobs(config)
    fleet.setup(devices, jobs_csv)
    started = time.monotonic()
    clusters = [fleet.start_cluster(), fleet.start_cluster()]
    rng = random.Random(config.seed)
    kill_times: list[datetime] = []
    plan = ["group"] * config.group_kills + ["master"] * config.master_kills
    rng.shuffle(plan)
    try:
        for kind in plan:
            time.sleep(rng.uniform(*config.gap_seconds))
            victim = busiest_cluster(fleet, clusters, rng)
            kill_times.append(datetime.now(UTC).replace(tzinfo=None))
            if kind == "group":
                fleet.kill_group(clusters[victim])
            else:
                os.kill(clusters[victim].pid, signal.SIGKILL)  # workers live on as orphans
                clusters[victim].wait(timeout=30)
            log(f"killed {kind} of cluster {victim} at {time.monotonic() - started:.1f}s")
            time.sleep(0.5)
            clusters[victim] = fleet.start_cluster()
        fleet.wait_until(
            lambda: unfinished(fleet) == 0,
            timeout=config.finish_timeout,
            what="every job to finish",
            poll=1.0,
        )
        result = audit(fleet, config, crash_jobs, kill_times)
        result.wall_seconds = time.monotonic() - started
        return result
    finally:
        fleet.stop_all()


def busiest_cluster(fleet: Fleet, clusters: list, rng: random.Random) -> int:
    """The cluster whose workers run the most attempts now (a kill that hurts), else random."""
    pids = [
        r["worker_pid"]
        for r in fleet.query("SELECT worker_pid FROM posting_attempt WHERE outcome = 'running'")
    ]
    running = Counter()
    for pid in pids:
        try:
            group = os.getpgid(pid)
        except (ProcessLookupError, TypeError):
            continue
        for index, cluster in enumerate(clusters):
            if cluster.pid == group:
                running[index] += 1
    if not running:
        return rng.randrange(len(clusters))
    return running.most_common(1)[0][0]


def unfinished(fleet: Fleet) -> int:
    rows = fleet.query(
        "SELECT COUNT(*) AS n FROM posting_job WHERE status IN ('pending', 'running')"
    )
    return rows[0]["n"]


def audit(fleet: Fleet, config: ChaosConfig, crash_jobs: set[str], kills: list[datetime]):
    result = ChaosResult(jobs=config.jobs, kills=len(kills))
    jobs = fleet.query("SELECT id, job_id, status, error FROM posting_job")
    result.statuses = Counter(j["status"] for j in jobs)
    result.unaccounted = [
        j["job_id"] for j in jobs if j["status"] not in ("success", "failed", "needs_review")
    ]
    result.reviews_without_reason = [
        j["job_id"] for j in jobs if j["status"] == "needs_review" and not j["error"]
    ]
    publishes = Counter(
        r["job_id"] for r in fleet.query("SELECT job_id FROM devices_publishrecord")
    )
    result.duplicate_publishes = sum(n - 1 for n in publishes.values() if n > 1)
    status_of = {j["job_id"]: j["status"] for j in jobs}
    result.crash_jobs = {job: (status_of[job], publishes[job]) for job in crash_jobs}

    attempts = fleet.query(
        "SELECT a.*, j.job_id AS job_key FROM posting_attempt a "
        "JOIN posting_job j ON j.id = a.job_id"
    )
    result.attempts = len(attempts)
    by_device, by_job = defaultdict(list), defaultdict(list)
    for a in attempts:
        by_device[a["device_id"]].append((a["started_at"], a["finished_at"]))
        by_job[a["job_key"]].append((a["started_at"], a["finished_at"]))
    result.device_overlaps = sum(overlaps(spans) for spans in by_device.values())
    result.job_overlaps = sum(overlaps(spans) for spans in by_job.values())
    # Recovered by the sweep: lost, or verified as posted after the lease expired.
    lost = [a for a in attempts if a["outcome"] == "lost" or "lease expired" in a["matched_rule"]]
    result.lost = len(lost)
    # Every attempt that ended lost carries a category and type (verified posts are successes).
    result.lost_unclassified = sum(
        1 for a in lost if a["outcome"] == "lost" and not (a["error_category"] and a["error_type"])
    )
    result.recovery_seconds = recovery_times(attempts, kills)
    successes = Counter(a["job_key"] for a in attempts if a["outcome"] == "success")
    result.double_successes = sum(1 for n in successes.values() if n > 1)
    logs = fleet.logs()
    result.database_locked = logs.count("database is locked")
    # A cluster that cannot start, or a crash in our code, leaves a traceback in the logs.
    result.tracebacks = logs.count("Traceback (most recent call last)")
    return result


def recovery_times(attempts, kills: list[datetime]) -> list[float]:
    """Per kill and interrupted device: seconds from the kill to the device's next attempt."""
    starts = defaultdict(list)
    for a in attempts:
        starts[a["device_id"]].append(as_naive_utc(a["started_at"]))
    times = []
    for kill in kills:
        for a in attempts:
            if a["outcome"] != "lost" and "lease expired" not in a["matched_rule"]:
                continue
            began, ended = as_naive_utc(a["started_at"]), as_naive_utc(a["finished_at"])
            if began < kill < ended:
                later = [s for s in starts[a["device_id"]] if s > kill]
                if later:
                    times.append((min(later) - kill).total_seconds())
    return times
