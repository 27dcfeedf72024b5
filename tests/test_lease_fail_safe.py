"""A session never outlives its lease: a database that stops answering tears the session down.

The reproduction from the field: a job hangs on its phone while the database is locked for
longer than the busy timeout. The attempt's watch thread cannot extend the lease; before the
fix it died on the first error, the sweep took the attempt over once the lease ended, and the
device started its next attempt while the first session still hung: two sessions on one phone.
Now the watch retries until just before the lease ends, then tears the session down first.
"""

import sqlite3
import time
from collections import defaultdict

import pytest

from fleetlab.processes import ROOT, Fleet

pytestmark = pytest.mark.processes


def session_intervals(log_path) -> dict[str, list[tuple[float, float]]]:
    """(opened, closed) per device from the simulator's session log; never closed: inf."""
    opened: dict[tuple[str, str], list[float]] = defaultdict(list)
    intervals: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for line in log_path.read_text().splitlines():
        moment, event, device, pid = line.split()
        key = (device, pid)
        if event == "open":
            opened[key].append(float(moment))
        else:
            intervals[device].append((opened[key].pop(), float(moment)))
    for (device, _), starts in opened.items():
        intervals[device] += [(start, float("inf")) for start in starts]
    return intervals


def overlapping_sessions(intervals: list[tuple[float, float]]) -> int:
    ordered = sorted(intervals)
    return sum(1 for (_, end), (start, _) in zip(ordered, ordered[1:], strict=False) if start < end)


def test_a_locked_database_never_leaves_two_sessions_on_one_phone(tmp_path):
    session_log = tmp_path / "sessions.log"
    fleet = Fleet(
        tmp_path,
        LEASE_SECONDS="3",
        JOB_TIMEOUT="120",  # the deadline must not be what saves the phone
        SQLITE_BUSY_TIMEOUT="1",
    )
    device = {
        "name": "phone-1",
        "capabilities": {"script": {"J1": ["hang", "success"]}, "session_log": str(session_log)},
    }
    fleet.setup([device], "job_id,account,video_path,caption,device\nJ1,@a,a.mp4,x,phone-1\n")
    try:
        fleet.start_cluster()
        fleet.wait_until(
            lambda: fleet.query("SELECT 1 FROM posting_attempt WHERE outcome = 'running'"),
            timeout=60,
            what="the hanging attempt to start",
        )
        lock = sqlite3.connect(fleet.db_path, timeout=30, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        time.sleep(8)  # well past the lease (3 s) and the busy timeout (1 s)
        lock.execute("COMMIT")
        lock.close()
        fleet.wait_until(
            lambda: fleet.query("SELECT 1 FROM posting_job WHERE status = 'success'"),
            timeout=90,
            what="J1 to succeed on its next attempt",
        )
    finally:
        fleet.stop_all()
    attempts = fleet.query("SELECT number, outcome, error_type FROM posting_attempt ORDER BY id")
    assert [(a["number"], a["outcome"]) for a in attempts] == [(1, "lost"), (2, "success")]
    sessions = session_intervals(session_log)["phone-1"]
    assert len(sessions) >= 2
    assert overlapping_sessions(sessions) == 0, sessions
    # django-q's monitor logs (and survives) its own locked-database errors; ours handle them.
    logs = fleet.logs()
    assert f"{ROOT}/posting/" not in logs and f"{ROOT}/devices/" not in logs
