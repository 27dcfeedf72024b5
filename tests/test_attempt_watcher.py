"""One watch thread per runner, kept from one attempt to the next."""

import threading

import pytest
from django.test import override_settings
from django.utils import timezone

from devices.backends.base import DeviceBackend
from posting import attempt_watch
from posting.attempt_watch import watched
from posting.claiming import open_attempt
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db(transaction=True)


class IdleBackend(DeviceBackend):
    def __init__(self) -> None:
        self.closed = threading.Event()

    def post(self, request, hooks) -> bool:
        return True

    def was_published(self, request) -> bool | None:
        return None

    def close(self) -> None:
        self.closed.set()


def watch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "attempt-watch"]


def test_successive_attempts_are_watched_by_one_thread():
    before = len(watch_threads())
    for _ in range(5):
        with watched(IdleBackend(), None, timeout=60) as watch:
            pass
        assert not (watch.timed_out or watch.lease_lost)
    assert len(watch_threads()) <= max(before, 1)


def test_a_nested_watch_gets_a_thread_of_its_own_that_ends_with_it():
    with watched(IdleBackend(), None, timeout=60):
        inside = len(watch_threads())
        with watched(IdleBackend(), None, timeout=60):
            assert len(watch_threads()) == inside + 1
        assert len(watch_threads()) == inside


def test_successive_attempts_do_not_wake_the_watch_thread_asleep_until_before_their_beat():
    with watched(IdleBackend(), None, timeout=60):
        pass
    watcher = attempt_watch._local.watcher
    while watcher._asleep_until is None:  # until it sleeps on a watch's first beat
        with watched(IdleBackend(), None, timeout=60):
            threading.Event().wait(0.01)
    notified = []
    notify = watcher._lock.notify
    watcher._lock.notify = lambda *args: (notified.append(args), notify(*args))
    for _ in range(5):
        with watched(IdleBackend(), None, timeout=60) as watch:
            pass
        assert not (watch.timed_out or watch.lease_lost)
    # A thread switch per attempt was most of a runner's context switches.
    assert notified == []


def test_a_reused_watcher_still_enforces_the_deadline():
    with watched(IdleBackend(), None, timeout=60):
        pass
    backend = IdleBackend()
    with watched(backend, None, timeout=0.2) as watch:
        assert backend.closed.wait(5)
    assert watch.timed_out


@override_settings(LEASE_SECONDS=0.6)
def test_a_reused_watcher_still_beats_the_lease_of_each_attempt():
    device = make_device()
    account = make_account(device=device)
    for job_id in ("W-1", "W-2"):
        attempt = open_attempt(make_job(job_id, account=account), device, now=timezone.now())
        first_expiry = attempt.lease_expires_at
        with watched(IdleBackend(), attempt, timeout=60) as watch:
            threading.Event().wait(0.5)  # a real thread beats: nothing to freeze
        attempt.refresh_from_db()
        assert attempt.lease_expires_at > first_expiry
        assert not watch.lease_lost
        attempt.finish(ended="failed", now=timezone.now(), outcome=_outcome())


def _outcome():
    from posting.models import Outcome

    return Outcome.failed("stopped", "infrastructure", "adb_timeout", "test")
