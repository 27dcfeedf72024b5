#!/usr/bin/env python
"""Run the kill scenario at a chosen size and print one line of figures.

    .venv/bin/python scripts/chaos.py --jobs 1000 --devices 6

Two qcluster processes on a throw-away SQLite database; whole clusters are killed with SIGKILL
at random moments and restarted, and one master is killed alone. See fleetlab/chaos.py.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleetlab.chaos import ChaosConfig, run_chaos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--devices", type=int, default=6)
    parser.add_argument("--kills", type=int, default=3, help="whole-cluster kills")
    parser.add_argument("--master-kills", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", metavar="DIR", help="run in DIR and keep its database and logs")
    args = parser.parse_args()
    config = ChaosConfig(
        jobs=args.jobs,
        devices=args.devices,
        group_kills=args.kills,
        master_kills=args.master_kills,
        seed=args.seed,
        gap_seconds=(3.0, 8.0),
        finish_timeout=max(600.0, args.jobs * 1.5),
    )
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="fleetpost-chaos-"))
    folder.mkdir(parents=True, exist_ok=True)
    result = run_chaos(folder, config, log=lambda m: print(m, file=sys.stderr))
    print(result.line())
    problems = [
        result.unaccounted,
        result.duplicate_publishes,
        result.device_overlaps,
        result.job_overlaps,
        result.double_successes,
        result.database_locked,
        result.tracebacks,
    ]
    return 1 if any(problems) else 0


if __name__ == "__main__":
    sys.exit(main())
