"""Several workers holding accounts of one platform at the same moment trip the breaker once.

Real processes on a real database (SQLite, and PostgreSQL where row locks and concurrent
transactions make the race real): each records a captcha for its own account on its own
device, all released by one signal.
"""

import subprocess
import sys
import time

import pytest

from fleetlab.processes import ROOT, Fleet

pytestmark = pytest.mark.processes

WORKERS = 6

HOLD = """
import os, pathlib, time
from posting.tracking import update_job_status
from posting.models import Job
Job.objects.exists()  # connect before the signal
folder = pathlib.Path(os.environ["BARRIER"])
(folder / os.environ["JOB"]).touch()
while not (folder / "go").exists():
    time.sleep(0.002)
update_job_status(
    os.environ["JOB"], "failed", None,
    error="Please verify you are human", error_category="account", error_type="captcha",
)
"""


# K below the number of holders: several see the threshold reached, one trips it. K equal to
# it: only the last holder can, and only if it sees every other hold (none is missed).
@pytest.mark.parametrize("threshold", [3, WORKERS])
def test_concurrent_holds_trip_the_breaker_exactly_once(tmp_path, backend_env, threshold):
    fleet = Fleet(tmp_path, PLATFORM_BREAKER_HOLDS=str(threshold), **backend_env)
    devices = [{"name": f"p{n}", "capabilities": {}} for n in range(WORKERS)]
    rows = ["job_id,account,video_path,caption,device,platform"]
    rows += [f"J{n},@ig{n},v.mp4,hi,p{n},instagram" for n in range(WORKERS)]
    fleet.setup(devices, "\n".join(rows) + "\n")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", HOLD],
            cwd=ROOT,
            env={**fleet.env, "JOB": f"J{n}", "BARRIER": str(barrier)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WORKERS)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(barrier.iterdir())) < WORKERS:
            assert time.monotonic() < deadline, "the workers did not get ready"
            assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
            time.sleep(0.05)
        (barrier / "go").touch()
        outputs = [w.communicate(timeout=120) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    assert [w.returncode for w in workers] == [0] * WORKERS, outputs
    logs = "".join(out + err for out, err in outputs)
    assert logs.count("platform_paused:") == 1, logs

    held = fleet.query("SELECT COUNT(*) AS n FROM posting_account WHERE status = 'captcha'")
    assert held[0]["n"] == WORKERS
    switch = fleet.query("SELECT * FROM posting_pauseswitch WHERE name = 'instagram'")
    assert len(switch) == 1
    assert switch[0]["paused"] and switch[0]["by_breaker"]
    assert f"threshold {threshold}" in switch[0]["reason"]
