"""System checks refuse a django-q2 configuration that breaks Fleetpost's assumptions."""

import pytest

from posting.checks import check_q_cluster, check_workers_per_host
from tests.factories import make_device


def ids(settings_q, settings):
    settings.Q_CLUSTER = settings_q
    return [e.id for e in check_q_cluster(None)]


def test_the_shipped_configuration_passes(settings):
    assert check_q_cluster(None) == []


def test_each_broken_rule_is_refused(settings):
    good = dict(settings.Q_CLUSTER)
    assert ids({**good, "max_attempts": 0}, settings) == ["posting.E001"]
    assert ids({**good, "ack_failures": False}, settings) == ["posting.E002"]
    assert ids({**good, "retry": good["timeout"]}, settings) == ["posting.E004"]
    assert ids({**good, "timeout": 60, "retry": 1000}, settings) == ["posting.E005"]


@pytest.mark.django_db
def test_more_devices_on_a_host_than_workers_warns(settings):
    from django_q.conf import Conf

    for _ in range(int(Conf.WORKERS) + 1):
        make_device(host="rack-a")
    warnings = check_workers_per_host(None)
    assert [w.id for w in warnings] == ["posting.W001"]
    assert "Host 'rack-a'" in warnings[0].msg
