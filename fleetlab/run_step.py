"""`python -m fleetlab.run_step STEP [ARG ...]`: one benchmark step in a fresh Django process.

The step (a function of `fleetlab.bench_steps`) runs against the database the environment
names and prints its figures as one line of JSON.
"""

import json
import os
import sys

import django


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    from fleetlab import bench_steps

    # Measured as in production: no query log, no template debugging. (The steps count
    # queries with CaptureQueriesContext, which logs them whatever DEBUG says.)
    settings.DEBUG = False

    step, *args = argv
    print(json.dumps(getattr(bench_steps, step)(*args)))


if __name__ == "__main__":
    main(sys.argv[1:])
