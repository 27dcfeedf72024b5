"""`manage.py runfleet` (what `scripts/run` starts): Ctrl-C lets running jobs finish; a second
Ctrl-C stops at once, leaving no process of the cluster behind."""

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from fleetlab.ports import free_port
from fleetlab.processes import ROOT, Fleet

pytestmark = pytest.mark.processes


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        alive.append(pid)
    return alive


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return found


def test_a_second_ctrl_c_stops_a_fleet_whose_job_hangs_at_once(tmp_path):
    fleet = Fleet(tmp_path, JOB_TIMEOUT="600")  # the hang would hold a graceful stop 10 min
    device = {"name": "phone-1", "capabilities": {"script": {"J1": ["hang"]}}}
    fleet.setup([device], "job_id,account,video_path,caption,device\nJ1,@a,a.mp4,x,phone-1\n")
    log = open(tmp_path / "runfleet.log", "w")  # noqa: SIM115
    runfleet = subprocess.Popen(
        [sys.executable, "manage.py", "runfleet", "--addr", f"127.0.0.1:{free_port()}"],
        cwd=ROOT,
        env=fleet.env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster: list[int] = []
    try:
        fleet.wait_until(
            lambda: fleet.query("SELECT 1 FROM posting_attempt WHERE outcome = 'running'"),
            timeout=60,
            what="the hanging attempt to start",
        )
        qcluster = _children_of(runfleet.pid)
        cluster += qcluster + [p for pid in qcluster for p in _children_of(pid)]
        cluster += [p for pid in list(cluster) for p in _children_of(pid)]
        assert len(cluster) >= 4, "qcluster, its sentinel, a worker, the web server"

        runfleet.send_signal(signal.SIGINT)
        time.sleep(3)
        assert runfleet.poll() is None, "the first Ctrl-C waits for the running job"

        runfleet.send_signal(signal.SIGINT)
        runfleet.wait(timeout=30)
        fleet.wait_until(
            lambda: not _alive(cluster), timeout=10, what="every process of the cluster to end"
        )
    finally:
        for pid in [runfleet.pid, *cluster]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        runfleet.wait()
    output = (tmp_path / "runfleet.log").read_text()
    assert "Ctrl-C again stops at once" in output
