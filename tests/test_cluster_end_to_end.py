"""End to end through a real `qcluster`: 61 jobs on 5 simulated devices, every category.

The cluster runs as a subprocess on a temporary SQLite database; the test checks the database
it leaves: each job's final state, no overlapping attempts per device or job, no attempt of a
held account after its hold, and the ledger showing each successful job published once.
"""

import csv
import io
from collections import defaultdict

import pytest

from fleetlab.processes import Fleet, overlaps

pytestmark = pytest.mark.processes

DEVICES = [f"d{n}" for n in range(1, 6)]

# scenario: (script of outcomes by attempt, expected (status, attempts, category, type))
SCENARIOS = {
    "adb": (["adb_timeout", "success"], ("success", 2, "", "")),
    "dropped": (["connection_dropped"] * 3, ("failed", 3, "infrastructure", "connection_dropped")),
    "race": (["verification_race", "success"], ("success", 2, "", "")),
    "stuck": (["claude_stuck"] * 3, ("failed", 3, "infrastructure", "claude_stuck")),
    "offline": (["device_offline", "appium_session", "success"], ("success", 3, "", "")),
    "media": (["media_missing"], ("failed", 1, "content", "media_missing")),
    "caption": (["caption_rejected"], ("failed", 1, "content", "caption_rejected")),
    "unknown": (["unknown"], ("failed", 1, "unknown", "")),
    "suspended": (["suspended"], ("failed", 1, "account", "suspended")),
    "captcha": (["captcha"], ("failed", 1, "account", "captcha")),
    "loggedout": (["loggedout"], ("failed", 1, "account", "loggedout")),
    "ratelimit": (["rate_limited"], ("pending", 1, "account", "rate_limited")),
}
HOLDING = {"suspended", "captcha", "loggedout", "ratelimit"}
WAITING_ON_HOLD = ("pending", 0, "", "")
FILLER_PER_DEVICE = 8


def build_scenario():
    """Devices (with their scripts), the jobs CSV and each job's expected end state."""
    scripts: dict[str, dict] = defaultdict(dict)
    rows, expected = [], {}
    for index, (name, (script, outcome)) in enumerate(SCENARIOS.items()):
        device = DEVICES[index % len(DEVICES)]
        job_id = f"J-{name}"
        scripts[device][job_id] = script
        rows.append((job_id, f"@{name}", f"{name}.mp4", f"{name} @friend", device, 10))
        expected[job_id] = outcome
        if name in HOLDING:
            for sibling in (1, 2):
                sibling_id = f"J-{name}-after-{sibling}"
                rows.append((sibling_id, f"@{name}", "x.mp4", "waits", device, 0))
                expected[sibling_id] = WAITING_ON_HOLD
    for device in DEVICES:
        for n in range(FILLER_PER_DEVICE):
            job_id = f"J-{device}-{n}"
            rows.append((job_id, f"@fill-{device}", f"{n}.mp4", f"post {n} 🎬", device, 0))
            expected[job_id] = ("success", 1, "", "")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["job_id", "account", "video_path", "caption", "device", "priority"])
    writer.writerows(rows)
    devices = [
        {"name": d, "capabilities": {"latency_ms": [20, 60], "script": scripts[d], "seed": 1}}
        for d in DEVICES
    ]
    return devices, out.getvalue(), expected


@pytest.fixture
def fleet(tmp_path, backend_env):
    # Three accounts of one platform are held here on purpose: the breaker (tested in
    # test_breaker_cluster) would pause the platform, so it is off for this test.
    fleet = Fleet(
        tmp_path,
        Q_WORKERS="6",
        RATE_LIMIT_COOLDOWN_MINUTES="600",
        PLATFORM_BREAKER="false",
        **backend_env,
    )
    yield fleet
    fleet.stop_all()


def job_states(fleet):
    rows = fleet.query(
        "SELECT job_id, status, attempts, error_category, error_type FROM posting_job"
    )
    return {
        r["job_id"]: (r["status"], r["attempts"], r["error_category"], r["error_type"])
        for r in rows
    }


def test_a_real_cluster_runs_every_job_to_its_expected_end(fleet):
    devices, jobs_csv, expected = build_scenario()
    assert len(expected) >= 60
    fleet.setup(devices, jobs_csv)
    fleet.start_cluster()

    fleet.wait_until(lambda: job_states(fleet) == expected, timeout=240, what="every job's end")
    assert job_states(fleet) == expected

    attempts = fleet.query(
        "SELECT a.*, j.job_id AS job_key, d.name AS device_name FROM posting_attempt a "
        "JOIN posting_job j ON j.id = a.job_id JOIN devices_device d ON d.id = a.device_id"
    )
    assert all(a["outcome"] != "running" for a in attempts)
    assert all(a["cluster"] == "local" for a in attempts)
    by_device, by_job = defaultdict(list), defaultdict(list)
    for a in attempts:
        by_device[a["device_name"]].append((a["started_at"], a["finished_at"]))
        by_job[a["job_key"]].append((a["started_at"], a["finished_at"]))
    assert {d: overlaps(spans) for d, spans in by_device.items()} == dict.fromkeys(by_device, 0)
    assert sum(overlaps(spans) for spans in by_job.values()) == 0

    # The dashboard's counters, kept by six workers at once, agree with the attempts.
    recounted = fleet.query(
        "SELECT pass_number, error_category, error_type, COUNT(*) AS n, "
        "COUNT(DISTINCT job_id) AS jobs FROM posting_attempt WHERE outcome IN ('failed', 'lost') "
        "GROUP BY pass_number, error_category, error_type"
    )
    counters = fleet.query(
        "SELECT pass_number, error_category, error_type, attempts AS n, jobs "
        "FROM posting_passfailure"
    )
    assert _keyed(counters) == _keyed(recounted)
    hourly = fleet.query(
        "SELECT outcome, SUM(attempts) AS n FROM posting_hourlyoutcome GROUP BY outcome"
    )
    finished = fleet.query("SELECT outcome, COUNT(*) AS n FROM posting_attempt GROUP BY outcome")
    assert {r["outcome"]: int(r["n"]) for r in hourly} == {r["outcome"]: r["n"] for r in finished}

    held = fleet.query(
        "SELECT handle, status, held_at FROM posting_account WHERE held_at IS NOT NULL"
    )
    assert {r["handle"]: r["status"] for r in held} == {
        "@suspended": "suspended",
        "@captcha": "captcha",
        "@loggedout": "loggedout",
        "@ratelimit": "rate_limited",
    }
    for account in held:
        late = fleet.query(  # ? placeholders work on both databases (see Fleet.query)
            "SELECT COUNT(*) AS n FROM posting_attempt a JOIN posting_job j ON j.id = a.job_id "
            "JOIN posting_account c ON c.id = j.account_id WHERE c.handle = ? AND a.started_at > ?",
            account["handle"],
            account["held_at"],
        )
        assert late[0]["n"] == 0, f"{account['handle']} got an attempt after its hold"

    publishes = defaultdict(int)
    for row in fleet.query("SELECT job_id FROM devices_publishrecord"):
        publishes[row["job_id"]] += 1
    successes = {job for job, state in expected.items() if state[0] == "success"}
    assert set(publishes) == successes
    assert set(publishes.values()) == {1}

    logs = fleet.logs()
    assert "Job J-dropped failed: ConnectionError: Connection to the device reset by peer " in logs
    assert "(category: infrastructure, type: connection_dropped)" in logs


def _keyed(rows) -> dict[tuple, tuple[int, int]]:
    return {
        (r["pass_number"], r["error_category"], r["error_type"]): (int(r["n"]), int(r["jobs"]))
        for r in rows
    }
