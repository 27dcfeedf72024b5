"""A real qcluster driving two Appium-backed devices through a real Appium server."""

from pathlib import Path

import pytest

from fleetlab.processes import Fleet, overlaps

pytestmark = [pytest.mark.processes, pytest.mark.appium]

APPIUM_DIR = Path(__file__).parent / "appium"


def fake_phone(name, app, server):
    return {
        "name": name,
        "backend": "appium",
        "appium_url": server.url,
        "capabilities": {
            "platformName": "Fake",
            "appium:automationName": "Fake",
            "appium:deviceName": "Fake",
            "appium:app": str(APPIUM_DIR / "apps" / app),
            "fleetpost:platform": "fakeapp",
        },
    }


def test_a_cluster_posts_through_appium_on_two_devices(tmp_path, appium_server):
    fleet = Fleet(tmp_path, Q_WORKERS="3", APPIUM_FLOW_DIRS=str(APPIUM_DIR / "flows"))
    rows = ["job_id,account,video_path,caption,device"]
    for n in range(3):
        rows.append(f"A{n},@fleet-tester,a{n}.mp4,hello {n},phone-a")
        rows.append(f"B{n},@second-tester,b{n}.mp4,hi {n},phone-b")
    devices = [
        fake_phone("phone-a", "post_ok.xml", appium_server),
        fake_phone("phone-b", "post_ok_second.xml", appium_server),
    ]
    fleet.setup(devices, "\n".join(rows) + "\n")
    try:
        fleet.start_cluster()

        def done():
            rows = fleet.query("SELECT COUNT(*) AS n FROM posting_job WHERE status = 'success'")
            return rows[0]["n"] == 6

        fleet.wait_until(done, timeout=120, what="six Appium posts")
    finally:
        fleet.stop_all()
    jobs = fleet.query("SELECT job_id, post_url FROM posting_job ORDER BY job_id")
    assert {j["job_id"][0]: j["post_url"] for j in jobs} == {
        "A": "https://video.example/@fleet-tester/123",
        "B": "https://video.example/@second-tester/123",
    }
    attempts = fleet.query(
        "SELECT device_id, started_at, finished_at, outcome, checkpoint_at FROM posting_attempt"
    )
    assert len(attempts) == 6
    assert all(a["outcome"] == "success" and a["checkpoint_at"] for a in attempts)
    for device_id in {a["device_id"] for a in attempts}:
        spans = [
            (a["started_at"], a["finished_at"]) for a in attempts if a["device_id"] == device_id
        ]
        assert overlaps(spans) == 0
    assert appium_server.sessions() == []
