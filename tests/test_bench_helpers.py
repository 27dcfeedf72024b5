"""The benchmark's floors and measures do what their figures claim."""

import csv
import os
import subprocess
import sys

from fleetlab import legacy_tracker
from fleetlab.cpu import session_cpu_seconds, session_processes


def test_the_legacy_tracker_floor_rewrites_the_whole_progress_file_with_the_outcome(tmp_path):
    progress = tmp_path / "progress.csv"
    legacy_tracker.write_progress(progress, 5)

    assert legacy_tracker.update_job_status(progress, "J00000001", "success", 2) == "success"
    assert (
        legacy_tracker.update_job_status(
            progress, "J00000003", "failed", 1, error="TimeoutError: adb did not answer"
        )
        == "pending"
    )

    rows = {row["job_id"]: row for row in csv.DictReader(progress.open())}
    assert len(rows) == 5
    assert (rows["J00000001"]["status"], rows["J00000001"]["worker_id"]) == ("success", "2")
    retried = rows["J00000003"]
    assert (retried["status"], retried["attempts"]) == ("pending", "1")
    assert (retried["error_category"], retried["error_type"]) == ("infrastructure", "adb_timeout")
    assert rows["J00000004"]["status"] == "pending"


def test_cpu_of_a_session_counts_its_children_including_the_ended_ones():
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    leader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            f"subprocess.run([sys.executable, '-c', {spin!r}])\n"  # ends and is reaped
            "print('child reaped', flush=True)\n"
            "time.sleep(30)",
        ],
        start_new_session=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        # Measure only once the leader says its child is gone, so the figure can only
        # come from the ended child's time being kept in the leader's counters.
        assert leader.stdout.readline() == "child reaped\n"
        assert session_processes(leader.pid) == 1
        assert session_cpu_seconds(leader.pid) >= 0.3
    finally:
        os.killpg(leader.pid, 9)
        leader.wait()
        leader.stdout.close()
