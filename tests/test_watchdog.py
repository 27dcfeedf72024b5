"""The watchdog: stalled work and hosts without a live cluster are raised once and shown."""

from datetime import timedelta

import pytest
from django.utils import timezone

from posting.models import ClusterHeartbeat
from posting.watchdog import run_watchdog
from tests.factories import claim, make_account, make_device, make_job

pytestmark = pytest.mark.django_db


def beat(name, starting=False):
    ClusterHeartbeat.beat(name, timezone.now(), workers=4, starting=starting)


def test_eligible_work_nobody_claims_raises_an_alert_once(clock, settings, caplog):
    beat("local", starting=True)
    make_job("J1", account=make_account(device=make_device("phone-1")))
    assert run_watchdog("local", now=timezone.now()) == []  # not quiet long enough yet
    clock.shift(timedelta(seconds=settings.WATCHDOG_STALL_SECONDS + 1))
    beat("local")
    with caplog.at_level("ERROR", logger="posting.watchdog"):
        alerts = run_watchdog("local", now=timezone.now())
    assert len(alerts) == 1
    assert "eligible work on 1 devices of host 'local' (phone-1)" in alerts[0]
    assert "Watchdog:" in caplog.text
    assert ClusterHeartbeat.objects.get(name="local").watchdog_alert == alerts[0]
    assert run_watchdog("local", now=timezone.now()) == []  # not raised twice


def test_the_alert_clears_when_work_moves_again(clock, settings):
    beat("local", starting=True)
    device = make_device()
    job = make_job(account=make_account(device=device))
    clock.shift(timedelta(seconds=settings.WATCHDOG_STALL_SECONDS + 1))
    beat("local")
    assert run_watchdog("local", now=timezone.now())
    claim(job, device)
    run_watchdog("local", now=timezone.now())
    assert ClusterHeartbeat.objects.get(name="local").watchdog_alert == ""


def test_a_device_host_without_a_live_cluster_is_marked(clock):
    beat("local")
    beat("rack-b")
    make_device(host="rack-b")
    clock.shift(timedelta(minutes=5))
    beat("local")
    alerts = run_watchdog("local", now=timezone.now())
    assert alerts == ["no live cluster for host 'rack-b': its devices get no attempts"]
    row = ClusterHeartbeat.objects.get(name="rack-b")
    assert not row.is_alive(timezone.now())
    assert row.watchdog_alert == alerts[0]
