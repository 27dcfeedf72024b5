"""`python -m fleetlab.bare_cluster`: django-q2's own cluster, without Fleetpost's heartbeat and
sweep (`posting`'s `qcluster` wraps it), for the orchestration benchmark's floor."""

import os
import signal
import time

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django_q.cluster import Cluster

    cluster = Cluster()
    cluster.start()
    # Waited for here, as posting's qcluster does, not at the interpreter's exit: there
    # django-q2's own handler, run when the benchmark signals the process group, sets the
    # stop event that the sentinel (killed by the same signal) no longer waits on, and
    # blocks until the benchmark kills it a minute later.
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    while not stopping and cluster.sentinel.is_alive():
        time.sleep(0.2)
    cluster.stop()


if __name__ == "__main__":
    main()
