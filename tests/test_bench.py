"""The benchmark command runs its scenarios on throw-away databases and prints its table.

Only behaviour is asserted here; the figures and their ratios are reported by `manage.py
bench`, never checked against wall-clock targets in tests.
"""

import re
import subprocess
import sys

import pytest

from fleetlab.bench_report import COLUMNS
from fleetlab.processes import ROOT

pytestmark = pytest.mark.processes


def bench(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    return done.stdout.strip().splitlines()


def rows_of(lines: list[str]) -> dict[str, str]:
    """The table's rows by scenario (the lines between the rule and the details)."""
    rule = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    header = lines[rule - 1]
    assert header.split() == list(COLUMNS)
    rows = {}
    for line in lines[rule + 1 :]:
        name = line.split()[0]
        if name.endswith(":"):
            break
        rows[name] = line
    return rows


def test_each_scenario_prints_figure_floor_ratio_and_target_with_the_machine():
    lines = bench("import", "update_job_status", "requeue", "admin", "--size", "300")
    assert lines[0].startswith("machine: ")
    assert "CPUs" in lines[0] and "database SQLite" in lines[0] and "broker" in lines[0]
    rows = rows_of(lines)
    assert list(rows) == ["import", "update_job_status", "requeue", "admin"]
    assert "300 rows in " in rows["import"] and "(csv + raw insert)" in rows["import"]
    assert "ms per call at 300 jobs" in rows["update_job_status"]
    assert "(CSV tracker, 300 jobs)" in rows["update_job_status"]
    assert "300 jobs in " in rows["requeue"] and "(one raw UPDATE)" in rows["requeue"]
    assert "same queries" in rows["admin"]  # the same query count at 100 and 300 jobs
    assert "import: memory grew " in "\n".join(lines)
    assert lines[-1].endswith(" of 4 targets met")


def test_the_requeue_on_postgresql_is_reported_without_sqlites_target():
    from fleetlab.services import missing_reason
    from tests.conftest import require_component

    require_component(missing_reason())
    lines = bench("requeue", "--size", "300", "--backend", "postgres-redis")
    assert "database PostgreSQL" in lines[0]
    row = rows_of(lines)["requeue"]
    assert "300 jobs in " in row and "<= 0.5 s on SQLite" in row
    assert row.split()[-1] == "-"  # no verdict
    assert lines[-1].endswith("0 of 0 targets met (requeue: no target on this database)")


def test_orchestration_counts_the_cpu_of_every_cluster_process_against_bare_django_q2():
    lines = bench("orchestration", "--size", "40")
    row = rows_of(lines)["orchestration"]
    assert "ms CPU per job" in row and "ms CPU per no-op task (bare django-q2)" in row
    details = "\n".join(lines)
    assert "40 zero-latency jobs on 8 simulated devices" in details
    (rounds,) = [line for line in lines if "each round's ratio: " in line]
    ratios = rounds.split("each round's ratio: ")[1].split(", ")
    assert len(ratios) == 3 and all(r.endswith("x") for r in ratios)
    # The verdict's ratio is the median round's.
    (shown,) = re.findall(r"\b\d+\.\d\dx\b", row)
    assert shown == sorted(ratios, key=lambda r: float(r[:-1]))[1]


def test_an_unknown_scenario_is_refused():
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "warp"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "unknown scenarios: warp" in done.stderr
