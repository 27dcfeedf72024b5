"""import_jobs on PostgreSQL, where the import's lookups take their PostgreSQL-only form."""

import subprocess
import sys
from unittest.mock import patch

import psycopg
import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlab.processes import ROOT, Fleet
from posting.csv_import import _one_of

HEADER = "job_id,account,video_path,caption\n"


def fleet_with_jobs(tmp_path, env: dict, count: int) -> Fleet:
    """A migrated fleet on PostgreSQL with jobs J0..J<count - 1> imported."""
    fleet = Fleet(tmp_path, **env)
    fleet.manage("migrate", "-v0")
    first = tmp_path / "first.csv"
    first.write_text(HEADER + "".join(f"J{n},@a,{n}.mp4,x\n" for n in range(count)))
    fleet.manage("import_jobs", str(first))
    return fleet


def test_on_postgresql_existing_and_repeated_ids_are_found_across_batches(tmp_path, scaleout_env):
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 2100)
    # J5 exists (its caption differs), J9 is new and repeated two batches later.
    second = tmp_path / "second.csv"
    filler = "".join(f"K{n},@a,{n}.mp4,x\n" for n in range(4100))
    second.write_text(
        HEADER + "J5,@a,5.mp4,changed\nJ9000,@a,a.mp4,x\n" + filler + "J9000,@a,b.mp4,x\n"
    )
    refused = fleet.manage("import_jobs", str(second), check=False)
    assert refused.returncode != 0
    report = refused.stdout + refused.stderr
    assert "line 2, column caption: differs from the stored job" in report
    assert "line 4104, column job_id: 'J9000' already on line 3" in report
    counted = fleet.manage(
        "shell", "-c", "from posting.models import Job; print(Job.objects.count())"
    )
    assert counted.stdout.splitlines()[-1] == "2100"


@pytest.mark.parametrize(
    ("values", "form"),
    [
        (["J1", "J2"], "= ANY(string_to_array(%s, %s))"),
        (["J1", "a\x1fb"], "= ANY(%s)"),  # would split into three
        ([""], "= ANY(%s)"),  # an empty text splits into no value at all
    ],
)
def test_ids_travel_as_one_text_unless_it_would_split_differently(monkeypatch, values, form):
    monkeypatch.setattr(connection, "vendor", "postgresql")
    sql, params = _one_of(values)
    assert sql == form
    assert params == (["\x1f".join(values), "\x1f"] if "string_to_array" in form else [values])


RECORDED_JOBS = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute(\"SELECT reltuples FROM pg_class WHERE relname = 'posting_job'\")\n"
    "    print(int(cursor.fetchone()[0]))\n"
)


def test_an_import_into_a_job_table_analysed_while_empty_analyses_it_again(tmp_path, scaleout_env):
    # Statistics of an emptied table made the commit's key checks read a whole index per row.
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 100)
    emptied = (
        "from django.db import connection\n"
        "from posting.models import Job, PassEntry\n"
        "PassEntry.objects.all().delete(); Job.objects.all().delete()\n"
        "connection.cursor().execute('ANALYZE posting_job')\n"
    )
    fleet.manage("shell", "-c", emptied)
    assert fleet.manage("shell", "-c", RECORDED_JOBS).stdout.splitlines()[-1] == "0"
    second = tmp_path / "second.csv"
    second.write_text(HEADER + "".join(f"K{n},@a,{n}.mp4,x\n" for n in range(300)))
    fleet.manage("import_jobs", str(second))
    assert fleet.manage("shell", "-c", RECORDED_JOBS).stdout.splitlines()[-1] == "300"


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_any_ids_travel_so_the_server_gets_exactly_them(values):
    # What the server's string_to_array does with the text: split on the separator.
    with patch.object(connection, "vendor", "postgresql"):
        sql, params = _one_of(values)
    if "string_to_array" in sql:
        joined, separator = params
        assert joined.split(separator) == values
    else:
        assert params == [values]


# While every row so far is new and sound, a batch is written without looking its ids up; the
# job table's unique job_id answers for them, and any doubt takes the batch again with lookups.

JOB_COUNTS = (
    "from posting.models import Job, PassEntry\n"
    "print(Job.objects.count(), PassEntry.objects.count())\n"
)


def test_rows_after_a_batch_taken_as_new_are_still_checked_against_it_and_the_stored_jobs(
    tmp_path, scaleout_env
):
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 100)
    # Lines 2-2001 are the first batch, all new; the second batch repeats K5 (line 7), changes
    # the stored J3 and has an empty video path: each is reported, nothing is written.
    second = tmp_path / "second.csv"
    second.write_text(
        HEADER
        + "".join(f"K{n},@a,{n}.mp4,x\n" for n in range(2000))
        + "K5,@a,5.mp4,x\nJ3,@a,3.mp4,changed\nK9000,@a,,x\n"
    )
    refused = fleet.manage("import_jobs", str(second), check=False)
    assert refused.returncode != 0
    report = refused.stdout + refused.stderr
    assert "3 problems" in report
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "100 100"
    problems = (
        "from posting.csv_import import ImportRefused, import_jobs\n"
        "try:\n"
        f"    import_jobs({str(second)!r})\n"
        "except ImportRefused as refused:\n"
        "    print(*refused.problems, sep='\\n')\n"
    )
    lines = fleet.manage("shell", "-c", problems).stdout.splitlines()
    assert lines[-3:] == [
        "line 2002, column job_id: 'K5' already on line 7",
        "line 2003, column caption: differs from the stored job (use --update to change it)",
        "line 2004, column video_path: is empty",
    ]


def test_stored_jobs_met_after_batches_taken_as_new_count_once_as_unchanged(tmp_path, scaleout_env):
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 100)
    second = tmp_path / "second.csv"
    second.write_text(
        HEADER
        + "".join(f"K{n},@b,{n}.mp4,x\n" for n in range(4100))
        + "".join(f"J{n},@a,{n}.mp4,x\n" for n in range(100))
    )
    done = fleet.manage("import_jobs", str(second))
    assert "imported 4200 rows: 4100 new jobs, 0 updated, 100 unchanged, 1 new account" in (
        done.stdout
    )
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "4200 4200"  # one pass entry per added job


def import_while_another_transaction_adds_c1(tmp_path, env: dict, rows: str):
    """On a fleet with J0..J9, run import_jobs on `rows` while another transaction has added
    C1 (a copy of J0: same account, video and caption) and commits it only once the import
    waits for it. The fleet, the command's exit code, its output and its errors."""
    fleet = fleet_with_jobs(tmp_path, env, 10)
    holder = psycopg.connect(env["DATABASE_URL"])
    try:
        holder.execute(
            "CREATE TEMPORARY TABLE held AS SELECT * FROM posting_job WHERE job_id = 'J0'"
        )
        holder.execute(
            "UPDATE held SET job_id = 'C1', "
            "id = nextval(pg_get_serial_sequence('posting_job', 'id'))"
        )
        holder.execute("INSERT INTO posting_job SELECT * FROM held")
        second = tmp_path / "second.csv"
        second.write_text(HEADER + rows)
        importing = subprocess.Popen(
            [sys.executable, "manage.py", "import_jobs", str(second)],
            cwd=ROOT,
            env=fleet.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        waiting = "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
        fleet.wait_until(lambda: fleet.query(waiting), timeout=60, what="the import to wait")
        holder.commit()
        out, err = importing.communicate(timeout=120)
    finally:
        holder.close()
    return fleet, importing.returncode, out, err


def test_a_job_another_transaction_is_adding_is_waited_for_and_then_found_stored(
    tmp_path, scaleout_env
):
    fleet, code, out, err = import_while_another_transaction_adds_c1(
        tmp_path, scaleout_env, "N1,@a,n.mp4,x\nC1,@a,0.mp4,x\n"
    )
    assert code == 0, err
    assert "imported 2 rows: 1 new job, 0 updated, 1 unchanged, 0 new accounts" in out
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "12 11"  # C1's pass entry is its writer's


def test_a_job_another_transaction_adds_while_ids_are_looked_up_refuses_the_file_plainly(
    tmp_path, scaleout_env
):
    # J1, stored, makes the import look ids up; the lookup cannot see C1 until it commits,
    # and the write then meets it: the file is refused with a message, not a traceback.
    fleet, code, out, err = import_while_another_transaction_adds_c1(
        tmp_path, scaleout_env, "J1,@a,1.mp4,x\nN1,@a,n.mp4,x\nC1,@a,0.mp4,x\n"
    )
    assert code != 0
    assert "Traceback" not in err, err
    assert "another import or change wrote the same rows while this one ran" in err
    assert "(job_id)=(C1)" in err
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "11 10"  # C1 alone was added, by its writer


def test_after_its_most_batches_taken_as_new_the_import_looks_ids_up(tmp_path, scaleout_env):
    # Each batch taken as new is a subtransaction: PostgreSQL tracks 64 per transaction.
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 1)
    second = tmp_path / "second.csv"
    second.write_text(HEADER + "".join(f"K{n},@a,{n}.mp4,x\n" for n in range(12)) + "K1,@a,1,x\n")
    small_batches = (
        "from unittest.mock import patch\n"
        "from posting import csv_import\n"
        "taken = []\n"
        "as_new = csv_import.JobImporter._take_as_new\n"
        "def counted(self, batch, seen):\n"
        "    taken.append(len(batch))\n"
        "    return as_new(self, batch, seen)\n"
        "with patch.object(csv_import, 'BATCH_AS_NEW', 3), "
        "patch.object(csv_import, 'MAX_BATCHES_AS_NEW', 2), patch.object(csv_import, 'BATCH', 4), "
        "patch.object(csv_import.JobImporter, '_take_as_new', counted):\n"
        "    try:\n"
        f"        csv_import.import_jobs({str(second)!r})\n"
        "    except csv_import.ImportRefused as refused:\n"
        "        print(*refused.problems, sep='\\n')\n"
        "print(taken)\n"
    )
    lines = fleet.manage("shell", "-c", small_batches).stdout.splitlines()
    assert lines[-2:] == ["line 14, column job_id: 'K1' already on line 3", "[3, 3]"]
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "1 1"


def test_a_file_malformed_after_batches_already_written_is_refused_by_line(tmp_path, scaleout_env):
    # The rows are read in a thread ahead of the writes: its refusal reaches the import.
    fleet = fleet_with_jobs(tmp_path, scaleout_env, 1)
    second = tmp_path / "second.csv"
    second.write_text(
        HEADER + "".join(f"K{n},@a,{n}.mp4,x\n" for n in range(12000)) + 'K-1,@a,1.mp4,"open\n'
    )
    refused = fleet.manage("import_jobs", str(second), check=False)
    assert refused.returncode != 0
    assert "line 12002, column caption: a quoted field starts here and is never closed" in (
        refused.stdout + refused.stderr
    )
    counted = fleet.manage("shell", "-c", JOB_COUNTS)
    assert counted.stdout.splitlines()[-1] == "1 1"
