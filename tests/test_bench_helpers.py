"""The benchmark's floors and measures do what their figures claim."""

import csv
import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from fleetlab import legacy_tracker
from fleetlab.bench_steps import _copy_job_table
from fleetlab.cpu import session_cpu_seconds, session_processes
from fleetlab.processes import Fleet


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


# The import floor writes into a copy of the job table: "the same table", so the copy keeps
# the job table's foreign keys, deferred to the commit as Django makes them, on both databases.

FOREIGN_KEYS_OF_BOTH = (
    "import json\n"
    "from django.db import connection\n"
    "from fleetlab.bench_steps import _copy_job_table\n"
    "with connection.cursor() as cursor:\n"
    "    _copy_job_table(cursor, 'bench_floor_job')\n"
    "    keys = {}\n"
    "    for table in ('posting_job', 'bench_floor_job'):\n"
    "        cursor.execute(\n"
    "            'SELECT pg_get_constraintdef(oid), condeferrable, condeferred '\n"
    "            'FROM pg_constraint '\n"
    "            \"WHERE conrelid = %s::regclass AND contype = 'f' ORDER BY 1\", [table])\n"
    "        keys[table] = cursor.fetchall()\n"
    "    cursor.execute('DROP TABLE bench_floor_job')\n"
    "print(json.dumps(keys))\n"
)


def test_the_import_floors_copy_of_the_job_table_keeps_its_foreign_keys_on_postgresql(
    tmp_path, scaleout_env
):
    fleet = Fleet(tmp_path, **scaleout_env)
    fleet.manage("migrate", "-v0")
    keys = json.loads(fleet.manage("shell", "-c", FOREIGN_KEYS_OF_BOTH).stdout.splitlines()[-1])
    job_keys = keys["posting_job"]
    assert {definition.split(" REFERENCES ")[1].split("(")[0] for definition, *_ in job_keys} == {
        "posting_account",
        "devices_device",
        "auth_user",
    }
    assert all(deferrable and deferred for _, deferrable, deferred in job_keys)
    assert keys["bench_floor_job"] == job_keys


@pytest.mark.django_db(transaction=True)
def test_the_import_floors_copy_of_the_job_table_keeps_its_foreign_keys_on_sqlite():
    with connection.cursor() as cursor:
        _copy_job_table(cursor, "bench_floor_job")
        keys = {}
        for table in ("posting_job", "bench_floor_job"):
            cursor.execute(f"PRAGMA foreign_key_list({table})")
            keys[table] = sorted(row[2:5] for row in cursor.fetchall())  # table, from, to
        cursor.execute("DROP TABLE bench_floor_job")
    assert {table for table, *_ in keys["posting_job"]} == {
        "posting_account",
        "devices_device",
        "auth_user",
    }
    assert keys["bench_floor_job"] == keys["posting_job"]
