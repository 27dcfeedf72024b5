"""Each Appium device of a host gets its own systemPort and mjpegServerPort."""

import json
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.management import CommandError, call_command

import devices.models
from config.env import env_port_range
from devices.backends.appium import AppiumBackend
from devices.checks import check_device_ports
from devices.models import Device
from fleetlab.processes import ROOT, Fleet
from tests.factories import make_device

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:4723"


def phone(name: str, host: str = "rack-a", **fields) -> Device:
    return make_device(name, host=host, backend="appium", appium_url=URL, **fields)


def ports(device: Device) -> tuple[int, int]:
    device.refresh_from_db()
    return device.system_port, device.mjpeg_server_port


def test_each_phone_of_a_host_gets_its_own_ports_from_the_ranges():
    assert [ports(phone(f"p{n}")) for n in range(3)] == [(8200, 9200), (8201, 9201), (8202, 9202)]
    assert ports(phone("elsewhere", host="rack-b")) == (8200, 9200)
    assert ports(make_device("sim")) == (None, None)


def test_the_session_gets_the_devices_ports():
    caps = AppiumBackend(phone("p1")).capabilities()
    assert (caps["appium:systemPort"], caps["appium:mjpegServerPort"]) == (8200, 9200)


def test_ports_are_kept_when_the_device_is_edited():
    phone("p1")
    second = phone("p2")
    Device.objects.filter(name="p1").delete()  # a free port below p2's must not move it
    second.capabilities = {"appium:udid": "R58M"}
    second.appium_url = "http://127.0.0.1:4724"
    second.full_clean()
    second.save()
    assert ports(second) == (8201, 9201)


def test_a_pinned_port_is_used_and_a_clash_is_refused_with_the_devices_named():
    pinned = phone("pinned", capabilities={"appium:systemPort": 8250})
    assert ports(pinned) == (8250, 9200)
    clash = Device(
        name="clash",
        host="rack-a",
        backend="appium",
        appium_url=URL,
        capabilities={"appium:mjpegServerPort": 8250},
    )
    with pytest.raises(ValidationError) as error:
        clash.full_clean()
    assert error.value.message_dict["capabilities"] == [
        "appium:mjpegServerPort 8250 is already used by device pinned on host rack-a "
        "(its appium:systemPort); pick another port or leave it out to get a free one"
    ]


def test_register_device_refuses_a_clash_and_prints_the_ports(capsys):
    call_command(
        "register_device", "p1", "--host", "rack-a", "--backend", "appium", "--appium-url", URL
    )
    assert "systemPort 8200, mjpegServerPort 9200" in capsys.readouterr().out
    with pytest.raises(CommandError, match="appium:systemPort 8200 is already used by device p1"):
        call_command(
            "register_device",
            "p2",
            *("--host", "rack-a", "--backend", "appium", "--appium-url", URL),
            *("--capabilities", json.dumps({"appium:systemPort": 8200})),
        )


def test_a_registration_that_loses_a_port_to_a_concurrent_one_picks_again(monkeypatch):
    """The other registration committed between our look at the free ports and our insert."""
    phone("first")
    real = devices.models.ports_in_use
    calls = []

    def stale_on_first_look(host, exclude_pk=None):
        calls.append(host)
        return {} if len(calls) == 1 else real(host, exclude_pk)

    monkeypatch.setattr(devices.models, "ports_in_use", stale_on_first_look)
    assert ports(phone("second")) == (8201, 9201)
    assert len(calls) >= 2


def test_a_port_taken_while_the_device_validates_is_picked_again_on_save(monkeypatch):
    """register_device validates, then saves: another registration may commit in between."""
    original = Device.clean

    def clean_then_lose_the_race(self):
        original(self)
        if self.name == "late":
            taken = {"appium:systemPort": self.system_port, "appium:mjpegServerPort": 9200}
            phone("early", capabilities=taken)

    monkeypatch.setattr(Device, "clean", clean_then_lose_the_race)
    late = Device(name="late", host="rack-a", backend="appium", appium_url=URL)
    late.full_clean()
    late.save()
    assert ports(late) == (8201, 9201)


def test_a_full_range_is_refused(settings):
    settings.APPIUM_SYSTEM_PORTS = range(8200, 8201)
    phone("p1")
    with pytest.raises(ValidationError, match="no free port left for appium:systemPort"):
        Device(name="p2", host="rack-a", backend="appium", appium_url=URL).full_clean()


def test_the_system_check_finds_a_port_shared_across_kinds():
    phone("p1")
    second = phone("p2")
    Device.objects.filter(pk=second.pk).update(mjpeg_server_port=8200)
    [error] = check_device_ports(None)
    assert error.id == "devices.E003"
    assert "port 8200 is appium:mjpegServerPort of p2 and appium:systemPort of p1" in error.msg


def test_port_ranges_are_validated(monkeypatch):
    monkeypatch.setenv("R", "9000-8000")
    with pytest.raises(ImproperlyConfigured, match="R must be first-last"):
        env_port_range("R", (1, 2))
    monkeypatch.setenv("R", "8200-8209")
    assert env_port_range("R", (1, 2)) == range(8200, 8210)


@pytest.mark.processes
def test_concurrent_registrations_on_one_host_get_distinct_ports(tmp_path, backend_env):
    fleet = Fleet(tmp_path, **backend_env)
    fleet.manage("migrate", "-v0")
    registrations = [
        subprocess.Popen(
            [
                *(sys.executable, "manage.py", "register_device", f"phone-{n}"),
                *("--host", "rack-a", "--backend", "appium", "--appium-url", URL),
            ],
            cwd=ROOT,
            env=fleet.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    for process in registrations:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    rows = fleet.query("SELECT system_port, mjpeg_server_port FROM devices_device")
    assert len(rows) == 6
    assert len({r["system_port"] for r in rows}) == len({r["mjpeg_server_port"] for r in rows}) == 6
