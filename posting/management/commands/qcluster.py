"""django-q2's `qcluster`, plus Fleetpost's cluster heartbeat and fast sweep of its host.

The cluster (sentinel, workers) starts exactly as django-q2 starts it. This process, its
parent, then beats: it records the cluster as alive in our tables, recovers expired leases and
wakes idle devices of its host every SWEEP_SECONDS, and runs the watchdog. django-q2's own
schedule still runs the sweep once a minute from inside the sentinel, so recovery goes on even
if this parent process is killed and the sentinel orphaned.
"""

import os
import signal
import time

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from django.utils import timezone
from django_q.management.commands.qcluster import Command as QClusterCommand

from posting.checks import hosts_short_of_workers
from posting.models import ClusterHeartbeat
from posting.schedules import ensure_schedules
from posting.sweep import sweep
from posting.watchdog import run_watchdog


class Command(QClusterCommand):
    help = "Starts the django-q2 cluster of this host, with Fleetpost's heartbeat and sweep."

    def handle(self, *args, run_once: bool = False, cluster_name: str | None = None, **options):
        if cluster_name:
            os.environ["Q_CLUSTER_NAME"] = cluster_name
        from django_q.cluster import Cluster  # after Q_CLUSTER_NAME is set
        from django_q.conf import Conf

        settings.SECRET_KEY  # noqa: B018 (payload signing needs it; fail before forking)
        name = Conf.CLUSTER_NAME
        try:
            ensure_schedules(name)
        except DatabaseError as exc:  # the cluster must start; the master loop sweeps anyway
            self.stderr.write(f"cluster {name}: could not write its schedules: {exc}")
        devices = hosts_short_of_workers(Conf.WORKERS).get(name)
        if devices:
            self.stderr.write(
                f"warning: host {name!r} has {devices} enabled devices but {Conf.WORKERS} "
                "workers; set Q_WORKERS to at least its devices plus one"
            )
        # The sentinel is forked next: a database connection open here would be shared with
        # it, and PostgreSQL drops a connection two processes talk over.
        connections.close_all()
        cluster = Cluster()
        cluster.start()
        try:
            self.beat_once(name, Conf.WORKERS, sweep_now=False, starting=True)
            if not run_once:
                self.beat_until_stopped(cluster, name, Conf.WORKERS)
        finally:
            # Marked first: device tasks see it and stop after their current job, so the
            # cluster's own stop (which waits for running tasks) ends promptly.
            ClusterHeartbeat.mark_stopped(name, timezone.now())
            if cluster.sentinel.is_alive():
                cluster.stop()

    def beat_until_stopped(self, cluster, name: str, workers: int) -> None:
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
        next_sweep = 0.0
        while not stopping and cluster.sentinel.is_alive():
            self.beat_once(name, workers, sweep_now=time.monotonic() >= next_sweep)
            if time.monotonic() >= next_sweep:
                next_sweep = time.monotonic() + settings.SWEEP_SECONDS
            time.sleep(min(settings.CLUSTER_HEARTBEAT_SECONDS, settings.SWEEP_SECONDS))

    def beat_once(self, name: str, workers: int, *, sweep_now: bool, starting=False) -> bool:
        """One heartbeat (and sweep, watchdog), each on its own: a database blip or one bad
        row stops none of them, and the loop goes on."""
        now = timezone.now()
        steps = [
            (
                "heartbeat",
                lambda: ClusterHeartbeat.beat(name, now, workers=workers, starting=starting),
            )
        ]
        if sweep_now:
            steps += [("sweep", lambda: sweep(name, now=now))]
            steps += [("watchdog", lambda: run_watchdog(name, now=now))]
        ok = True
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # the loop must outlive a locked or restarting database
                self.stderr.write(f"cluster {name}: {what} failed: {exc}")
                close_old_connections()
                ok = False
        return ok
