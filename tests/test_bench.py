"""The benchmark command runs its scenarios on throw-away databases and prints one line each.

Only behaviour is asserted here; the figures are reported by `manage.py bench`, never checked
against wall-clock targets in tests.
"""

import subprocess
import sys

import pytest

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


def test_requeue_and_admin_scenarios_report_their_figures():
    requeue, admin = bench("requeue", "admin", "--size", "300")
    assert requeue.startswith("requeue: 300 failed jobs into pass 2 in ")
    assert "db=sqlite broker=orm" in requeue
    assert admin.startswith("admin: 300 jobs, 3000 attempts: jobs ")
    assert "(100 rows:" not in admin  # same query count at 100 and 300 rows


def test_import_scenario_reports_rate_and_memory():
    (line,) = bench("import", "--size", "2000")
    assert line.startswith("import: 2000 rows at ")
    assert "peak memory" in line


def test_an_unknown_scenario_is_refused():
    done = subprocess.run(
        [sys.executable, "manage.py", "bench", "warp"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "unknown scenarios: warp" in done.stderr
