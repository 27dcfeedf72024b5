"""Pull the plug: two real clusters killed at random moments, every job still accounted for.

200 jobs on 6 simulated devices with random latency and failure rates, some scripted to crash
right after publishing and some to hang. Three times a whole cluster (its process group) is
killed with SIGKILL and restarted; once only a cluster's master, leaving orphaned workers.
"""

import pytest

from fleetlab.chaos import ChaosConfig, run_chaos

pytestmark = pytest.mark.processes


def test_killed_clusters_lose_nothing_and_publish_nothing_twice(tmp_path, backend_env):
    # On Redis a task in flight when its cluster dies is gone (no receipts): the sweep of the
    # restarted cluster recovers the attempt and wakes the device.
    config = ChaosConfig(jobs=200, devices=6)
    result = run_chaos(tmp_path, config, log=lambda _: None, **backend_env)
    print(result.line())
    assert result.kills == 4
    assert result.unaccounted == []
    assert result.reviews_without_reason == []
    assert result.duplicate_publishes == 0
    assert result.device_overlaps == 0
    assert result.job_overlaps == 0
    assert result.lost_unclassified == 0
    assert result.double_successes == 0
    assert result.database_locked == 0
    assert result.tracebacks == 0
    assert result.crash_jobs, "the scenario scripts crash_after_publish jobs"
    assert all(state == ("success", 1) for state in result.crash_jobs.values()), result.crash_jobs
