"""The watch beside every use of a phone for an attempt: lease heartbeat and job deadline.

It keeps the attempt's lease alive while the backend works (posting, and verifying whether a
post exists) and enforces the job's deadline by tearing the backend session down, never by a
signal: django-q's own SIGALRM timeout must stay the only one. It fails safe: a database error
is retried until the lease would end, and a lease that cannot be extended in time ends the
backend session first, so recovery never hands the phone to a second session while this one
still runs (DESIGN invariant 3).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from devices.backends import DeviceBackend
from posting.models import Attempt
from retries.classification import describe_exception

logger = logging.getLogger("posting.attempt_watch")

RETRY_SECONDS = 0.5


class AttemptWatch(threading.Thread):
    def __init__(
        self,
        backend: DeviceBackend,
        attempt: Attempt | None,
        *,
        timeout: float,
        extra_beat: Callable[[datetime], bool] | None = None,
    ) -> None:
        super().__init__(name="attempt-watch", daemon=True)
        self.backend = backend
        self.attempt = attempt
        self.timeout = timeout
        self.extra_beat = extra_beat
        self.stopped = threading.Event()
        self.timed_out = False
        self.lease_lost = False
        lease = settings.LEASE_SECONDS
        self.beat_every = max(0.05, lease / 3)
        # Give up a sixth of the lease before it ends: the session is torn down before anyone
        # else may take the attempt over.
        self.give_up_margin = max(0.05, lease / 6)
        self.lease_ends = time.monotonic() + lease
        self.deadline = time.monotonic() + timeout

    def run(self) -> None:
        try:
            while not self.stopped.wait(self._next_wait()):
                if time.monotonic() >= self.deadline:
                    self.timed_out = True
                    self._tear_down("the job's deadline passed")
                    return
                if not self._beat():
                    return
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        self.join()

    def _next_wait(self) -> float:
        due = min(self.deadline, self.lease_ends - self.give_up_margin)
        return max(0.0, min(self.beat_every, due - time.monotonic()))

    def _beat(self) -> bool:
        """Extend the lease once; False when the session had to be torn down."""
        started = time.monotonic()
        try:
            extended = self._extend(timezone.now())
        except Exception as exc:  # a locked or restarting database: "cannot tell", retry
            logger.warning("Lease heartbeat failed: %s", describe_exception(exc))
            close_old_connections()
            connection.close()
            if time.monotonic() >= self.lease_ends - self.give_up_margin:
                self.lease_lost = True
                self._tear_down("the lease could not be extended before it ended")
                return False
            self.stopped.wait(RETRY_SECONDS)
            return True
        if not extended:
            self.lease_lost = True
            self._tear_down("the lease was taken over")
            return False
        self.lease_ends = started + settings.LEASE_SECONDS
        return True

    def _extend(self, now: datetime) -> bool:
        if self.attempt is not None and not self.attempt.extend_lease(now, settings.LEASE_SECONDS):
            return False
        if self.extra_beat is not None:
            self.extra_beat(now)
        return True

    def _tear_down(self, why: str) -> None:
        logger.warning("Tearing down the backend session of %s: %s", self.attempt, why)
        try:
            self.backend.close()
        except Exception as exc:
            logger.error("Tearing down the backend session failed: %s", describe_exception(exc))


@contextmanager
def watched(
    backend: DeviceBackend,
    attempt: Attempt | None,
    *,
    timeout: float,
    extra_beat: Callable[[datetime], bool] | None = None,
) -> Iterator[AttemptWatch]:
    """Run the block with the attempt's lease kept alive and its deadline enforced."""
    watch = AttemptWatch(backend, attempt, timeout=timeout, extra_beat=extra_beat)
    watch.start()
    try:
        yield watch
    finally:
        watch.stop()
