"""Each device's live state (running job, host cluster liveness) as query annotations."""

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from posting.models import Attempt, AttemptOutcome, ClusterHeartbeat


def with_live_state(queryset):
    """Annotate the running job and the host cluster's last beat: no query per row."""
    running = Attempt.objects.filter(device=OuterRef("pk"), outcome=AttemptOutcome.RUNNING)
    beats = ClusterHeartbeat.objects.filter(name=OuterRef("host"), stopped_at__isnull=True)
    return queryset.annotate(
        current_job=Subquery(running.values("job__job_id")[:1]),
        cluster_beat=Subquery(beats.values("last_beat_at")[:1]),
    )


def cluster_alive(device) -> bool:
    beat = getattr(device, "cluster_beat", None)
    return beat is not None and beat >= timezone.now() - ClusterHeartbeat.stale_after()
