"""Several device hosts on PostgreSQL + Redis: routing, host-side checks, production serving."""

import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter

import pytest

from fleetlab.ports import free_port
from fleetlab.processes import ROOT, Fleet

pytestmark = pytest.mark.processes


def simulated(name, host):
    return {"name": name, "host": host, "capabilities": {"latency_ms": [20, 60], "seed": 3}}


def test_each_device_runs_only_on_its_own_hosts_cluster(tmp_path, scaleout_env):
    fleet = Fleet(tmp_path, Q_WORKERS="4", **scaleout_env)
    devices = [simulated(f"{host}{n}", host) for host in ("a", "b") for n in (1, 2)]
    rows = ["job_id,account,video_path,caption,device"]
    rows += [f"J{n},@acct{n % 4},v{n}.mp4,post {n},{devices[n % 4]['name']}" for n in range(40)]
    fleet.setup(devices, "\n".join(rows) + "\n")
    try:
        fleet.start_cluster("a")
        fleet.start_cluster("b")

        def all_posted():
            return (
                fleet.query("SELECT COUNT(*) AS n FROM posting_job WHERE status='success'")[0]["n"]
                == 40
            )

        fleet.wait_until(all_posted, timeout=120, what="40 posts on two hosts")
        attempts = fleet.query(
            "SELECT a.cluster, d.host FROM posting_attempt a "
            "JOIN devices_device d ON d.id = a.device_id"
        )
        assert Counter((a["cluster"], a["host"]) for a in attempts) == {
            ("a", "a"): 20,
            ("b", "b"): 20,
        }
        schedules = fleet.query("SELECT name, cluster FROM django_q_schedule ORDER BY name")
        assert {(s["name"], s["cluster"]) for s in schedules} >= {
            ("fleetpost-sweep-a", "a"),
            ("fleetpost-sweep-b", "b"),
        }

        checked = fleet.manage("check_devices").stdout
        assert checked.count("host a") == 2 and checked.count("host b") == 2, checked
        assert "4 of 4 devices healthy" in checked

        video = tmp_path / "on-host-a.mp4"
        video.write_bytes(b"video")
        csv_path = tmp_path / "more.csv"
        csv_path.write_text(
            "job_id,account,video_path,caption,device\n"
            f"K1,@k1,{video},x,a1\nK2,@k2,{tmp_path / 'missing.mp4'},y,b1\n"
        )
        refused = fleet.manage("import_jobs", str(csv_path), "--check-files", check=False)
        assert refused.returncode == 1
        assert (
            f"line 3, column video_path: no file at {tmp_path / 'missing.mp4'} on host b"
            in refused.stderr
        )
        assert "line 2" not in refused.stderr
    finally:
        fleet.stop_all()


def production_env(tmp_path, scaleout_env) -> dict:
    return {
        **os.environ,
        **scaleout_env,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "k" + "x7Q9!pL2#vR8@mN4$wT6^yB1&zC5*dF3" * 2,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "FLEETPOST_VAR_DIR": str(tmp_path),
        "STATIC_ROOT": str(tmp_path / "static"),
        "SECURE_SSL_REDIRECT": "false",
    }


def test_gunicorn_serves_the_app_and_whitenoise_its_static_files(tmp_path, scaleout_env):
    env = production_env(tmp_path, scaleout_env)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "collectstatic", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [
            os.path.join(os.path.dirname(sys.executable), "gunicorn"),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
        ],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/admin/login/", timeout=2) as page:
                    assert page.status == 200
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        with urllib.request.urlopen(f"{base}/static/vendor/chartjs/chart.umd.min.js") as script:
            assert script.status == 200
            assert "max-age" in script.headers["Cache-Control"]
    finally:
        server.terminate()
        server.wait(timeout=20)
