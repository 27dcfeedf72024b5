"""The runner's and the tracker's in-process tests, run again on PostgreSQL.

There their writes take a form SQLite never runs (several writes chained in one statement by
WITH ... RETURNING, the claim's SKIP LOCKED, row locks on the device), so the same tests of
fencing, late cancels, pass history and counters are run against a throw-away server.
"""

import os
import subprocess
import sys

import pytest

from fleetlab.processes import ROOT

pytestmark = pytest.mark.processes

MODULES = [
    "tests/test_checkpoint.py",
    "tests/test_claim_statement.py",
    "tests/test_claiming.py",
    "tests/test_device_health.py",
    "tests/test_eligibility.py",
    "tests/test_fencing.py",
    "tests/test_lifecycle.py",
    "tests/test_orchestration_statements.py",
    "tests/test_pacing_in_claim.py",
    "tests/test_pass_failures.py",
    "tests/test_pass_history.py",
    "tests/test_posting_job_execution.py",
    "tests/test_simulator_backend.py",
    "tests/test_record_and_next_claim.py",
    "tests/test_statements.py",
    "tests/test_throughput.py",
    "tests/test_tracking_statements.py",
    "tests/test_transitions.py",
    "tests/test_trustworthy_edges.py",
]


def test_the_runners_writes_pass_their_tests_on_postgresql(scaleout_servers):
    postgres, _ = scaleout_servers
    env = {**os.environ, "DATABASE_URL": postgres.create_database()}
    env.pop("REDIS_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not processes and not browser",
            *MODULES,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]
