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
import os
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


class AttemptWatch:
    """One use of the phone, watched: its lease heartbeat and its deadline. The watcher thread
    calls `act` when `due`; the result is read by the caller once the watch has ended."""

    def __init__(
        self,
        backend: DeviceBackend,
        attempt: Attempt | None,
        *,
        timeout: float,
        extra_beat: Callable[[datetime], bool] | None = None,
    ) -> None:
        self.backend = backend
        self.attempt = attempt
        self.timeout = timeout
        self.extra_beat = extra_beat
        self.timed_out = False
        self.lease_lost = False
        lease = settings.LEASE_SECONDS
        self.beat_every = max(0.05, lease / 3)
        # Give up a sixth of the lease before it ends: the session is torn down before anyone
        # else may take the attempt over.
        self.give_up_margin = max(0.05, lease / 6)
        self.lease_ends = time.monotonic() + lease
        self.deadline = time.monotonic() + timeout
        self.due = self._next_after(time.monotonic())

    def act(self) -> bool:
        """Enforce the deadline or beat once; False when the watch has ended (session torn
        down). The beat schedules the next call in `due`."""
        if time.monotonic() >= self.deadline:
            self.timed_out = True
            self._tear_down("the job's deadline passed")
            return False
        return self._beat()

    def _next_after(self, moment: float) -> float:
        """When to act next, counting from `moment`: a beat later, or sooner at the deadline
        or the moment to give up on the lease."""
        due = min(self.deadline, self.lease_ends - self.give_up_margin)
        return moment + max(0.0, min(self.beat_every, due - moment))

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
            # Retry after a pause (the database may be locked or restarting).
            self.due = self._next_after(time.monotonic() + RETRY_SECONDS)
            return True
        if not extended:
            self.lease_lost = True
            self._tear_down("the lease was taken over")
            return False
        self.lease_ends = started + settings.LEASE_SECONDS
        self.due = self._next_after(time.monotonic())
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


class Watcher(threading.Thread):
    """The thread that runs one watch at a time, kept for the next one: a runner posts many
    jobs in a row, and a thread started and joined per attempt cost more CPU than the
    attempt's own queries. Acting on a watch holds the lock, so `unwatch` returns only once
    the watch can no longer beat or tear anything down."""

    def __init__(self) -> None:
        super().__init__(name="attempt-watch", daemon=True)
        self._lock = threading.Condition()
        self._current: AttemptWatch | None = None
        self._closing = False
        # When the thread's wait ends by itself (None: it waits for a notify).
        self._asleep_until: float | None = None
        self.pid = os.getpid()

    def watch(self, watch: AttemptWatch) -> None:
        with self._lock:
            if self._current is not None:
                raise RuntimeError("the watcher already watches an attempt")
            self._current = watch
            # Asleep until this watch's first beat or earlier, the thread wakes in time by
            # itself: a notify would cost a thread switch on every attempt of a runner.
            if self._asleep_until is None or self._asleep_until > watch.due:
                self._lock.notify()

    def unwatch(self, watch: AttemptWatch) -> None:
        with self._lock:
            if self._current is watch:
                self._current = None

    def close(self) -> None:
        """End the thread (a watcher kept for one use only)."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self.join()

    @property
    def busy(self) -> bool:
        return self._current is not None

    def run(self) -> None:
        try:
            self._run()
        finally:
            connection.close()

    def _run(self) -> None:
        with self._lock:
            while not self._closing:
                watch = self._current
                if watch is None:
                    # Idle between attempts: its database connection is not kept.
                    connection.close()
                    self._asleep_until = None
                    self._lock.wait()
                elif time.monotonic() < watch.due:
                    self._asleep_until = watch.due
                    self._lock.wait(watch.due - time.monotonic())
                elif not self._act(watch):
                    self._current = None

    def _act(self, watch: AttemptWatch) -> bool:
        try:
            return watch.act()
        except Exception:  # a bug must not end the watcher: fail safe, end the session
            logger.exception("The attempt watch failed")
            watch.lease_lost = True
            watch._tear_down("the watch failed")
            return False


_local = threading.local()


def _watcher() -> Watcher | None:
    """This thread's idle watcher (started on first use, again after a fork), or None while
    it watches (a nested use gets a watcher of its own)."""
    watcher = getattr(_local, "watcher", None)
    if watcher is None or not watcher.is_alive() or watcher.pid != os.getpid():
        watcher = _local.watcher = Watcher()
        watcher.start()
    return None if watcher.busy else watcher


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
    watcher = _watcher()
    own = watcher is None
    if own:
        watcher = Watcher()
        watcher.start()
    watcher.watch(watch)
    try:
        yield watch
    finally:
        watcher.unwatch(watch)
        if own:
            watcher.close()
