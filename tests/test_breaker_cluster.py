"""The circuit breaker through a real `qcluster` with simulated devices.

A scripted captcha wave on Instagram trips the breaker after K holds: no Instagram attempt
starts afterwards (not even for jobs imported later), TikTok jobs keep running, operators get
exactly one notification, and a resume lets Instagram run again.
"""

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from fleetlab.processes import Fleet, as_naive_utc

pytestmark = pytest.mark.processes

K = 3
WAVE_DEVICES = ["d1", "d2", "d3"]
TIKTOK_PER_DEVICE = 15


class Webhook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        Webhook.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    Webhook.received = []
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()


def jobs_csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["job_id", "account", "video_path", "caption", "device", "priority", "platform"]
    )
    writer.writerows(rows)
    return out.getvalue()


def scenario():
    """Three devices whose Instagram account meets a captcha first, and TikTok work on all."""
    devices, rows = [], []
    for device in [*WAVE_DEVICES, "d4"]:
        script = {}
        if device in WAVE_DEVICES:
            script[f"IG-{device}-a"] = ["captcha"]
            for suffix in ("a", "b"):  # b waits on the held account
                rows.append(
                    (
                        f"IG-{device}-{suffix}",
                        f"@ig-{device}",
                        "v.mp4",
                        "ig",
                        device,
                        10,
                        "instagram",
                    )
                )
        for n in range(TIKTOK_PER_DEVICE):
            rows.append((f"TT-{device}-{n}", f"@tt-{device}", "v.mp4", "tt", device, 0, "tiktok"))
        devices.append(
            {"name": device, "capabilities": {"latency_ms": [150, 250], "script": script}}
        )
    return devices, jobs_csv(rows)


def test_a_captcha_wave_pauses_its_platform_once_and_a_resume_lets_it_run(tmp_path, webhook):
    fleet = Fleet(
        tmp_path,
        Q_WORKERS="6",
        PLATFORM_BREAKER_HOLDS=str(K),
        NOTIFY_WEBHOOK_URL=webhook,
        LOG_LEVEL="INFO",
    )
    devices, first_csv = scenario()
    fleet.setup(devices, first_csv)
    try:
        fleet.start_cluster()

        def switch():
            rows = fleet.query(
                "SELECT * FROM posting_pauseswitch WHERE scope='platform' AND name='instagram'"
            )
            return rows[0] if rows else None

        fleet.wait_until(
            lambda: switch() is not None and switch()["paused"], timeout=90, what="the trip"
        )
        tripped = switch()
        assert tripped["by_breaker"]
        assert sorted(json.loads(tripped["accounts"])) == [f"@ig-{d}" for d in WAVE_DEVICES]
        assert "circuit breaker: 3 instagram accounts held" in tripped["reason"]

        # Instagram work that arrives while the platform is paused waits; TikTok goes on.
        late = tmp_path / "late.csv"
        late.write_text(
            jobs_csv(
                [
                    (f"IG-late-{n}", "@ig-late", "v.mp4", "late", "d4", 0, "instagram")
                    for n in range(3)
                ]
            )
        )
        fleet.manage("import_jobs", str(late))

        def count(sql, *params):
            return fleet.query(sql, *params)[0]["n"]

        tiktok_total = TIKTOK_PER_DEVICE * 4
        fleet.wait_until(
            lambda: (
                count(
                    "SELECT COUNT(*) AS n FROM posting_job "
                    "WHERE status='success' AND job_id LIKE 'TT-%'"
                )
                == tiktok_total
            ),
            timeout=120,
            what="every TikTok job",
        )
        attempts = fleet.query(
            "SELECT a.started_at, c.platform FROM posting_attempt a "
            "JOIN posting_job j ON j.id = a.job_id JOIN posting_account c ON c.id = j.account_id"
        )
        paused_at = as_naive_utc(tripped["paused_at"])
        after = [a["platform"] for a in attempts if as_naive_utc(a["started_at"]) > paused_at]
        assert "instagram" not in after
        assert "tiktok" in after  # the other platform kept running after the trip
        assert sorted(a["platform"] for a in attempts).count("instagram") == K
        waiting = fleet.query(
            "SELECT job_id, status, attempts FROM posting_job WHERE job_id LIKE 'IG-late-%'"
        )
        assert {(r["status"], r["attempts"]) for r in waiting} == {("pending", 0)}

        progress = json.loads(fleet.manage("progress", "--json").stdout)
        assert [(p["scope"], p["name"], p["by_breaker"]) for p in progress["pauses"]] == [
            ("platform", "instagram", True)
        ]

        resumed = fleet.manage("resume", "platform", "instagram").stdout
        assert "resumed platform instagram" in resumed
        fleet.wait_until(
            lambda: (
                count(
                    "SELECT COUNT(*) AS n FROM posting_job "
                    "WHERE status='success' AND job_id LIKE 'IG-late-%'"
                )
                == 3
            ),
            timeout=60,
            what="the Instagram jobs after the resume",
        )
        held_jobs = fleet.query("SELECT status FROM posting_job WHERE job_id LIKE 'IG-d%-b'")
        assert {r["status"] for r in held_jobs} == {"pending"}  # their accounts stay held
        assert not switch()["paused"]
    finally:
        fleet.stop_all()
    trips = [r for r in Webhook.received if r["event"] == "platform_paused"]
    assert len(trips) == 1, Webhook.received
    assert "Platform instagram paused by the circuit breaker" in trips[0]["text"]
    assert sum(r["event"] == "account_held" for r in Webhook.received) == K
