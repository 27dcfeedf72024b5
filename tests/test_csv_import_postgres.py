"""import_jobs on PostgreSQL, where the import's lookups take their PostgreSQL-only form."""

from unittest.mock import patch

import pytest
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from fleetlab.processes import Fleet
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
