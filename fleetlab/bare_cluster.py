"""`python -m fleetlab.bare_cluster`: django-q2's own cluster, without Fleetpost's heartbeat and
sweep (`posting`'s `qcluster` wraps it), for the orchestration benchmark's floor."""

import os

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django_q.cluster import Cluster

    Cluster().start()


if __name__ == "__main__":
    main()
