"""discover_devices with a fake `adb` on PATH printing canned `adb devices -l` output.

The fake adb stands in for phones on USB, the one thing that cannot run here.
"""

import os
import stat

import pytest
from django.core.management import CommandError, call_command
from django_q.models import OrmQ

from devices.models import Device
from tests.factories import make_device

pytestmark = pytest.mark.django_db

ADB_OUTPUT = (
    "* daemon not running; starting now at tcp:5037\n"
    "* daemon started successfully\n"
    "List of devices attached\n"
    "R58M12345ABC           device usb:1-1.2 product:beyond1lte model:SM_G973F "
    "device:beyond1 transport_id:3\n"
    "emulator-5554          device product:sdk_gphone64 model:sdk_gphone64_x86_64 "
    "device:emu64x transport_id:1\n"
    "ZY22K4XJQP             unauthorized usb:1-1.3 transport_id:4\n"
    "9A9X1ZZZ               unauthorized usb:1-1.4 transport_id:5\n"
    "\n"
)


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    """Put an `adb` on PATH that prints `output` (set it with fake_adb(text))."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "adb"

    def install(output: str) -> None:
        (folder / "output.txt").write_text(output)
        script.write_text(
            f'#!/bin/sh\n[ "$1 $2" = "devices -l" ] || exit 2\ncat "{folder}/output.txt"\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IEXEC)

    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    install(ADB_OUTPUT)
    return install


def known(name: str, serial: str, **fields) -> Device:
    return make_device(
        name,
        host="rack-a",
        backend="appium",
        appium_url="http://127.0.0.1:4723",
        capabilities={"appium:udid": serial},
        **fields,
    )


def discover(capsys, *args: str) -> str:
    call_command("discover_devices", "--host", "rack-a", *args)
    return capsys.readouterr().out


def test_new_known_unauthorized_and_missing_phones(fake_adb, capsys):
    old = known("old-phone", "R58M12345ABC", health="offline")
    refused = known("refused", "9A9X1ZZZ")
    gone = known("gone", "GONE0001")
    out = discover(capsys)
    table = {line.split()[1]: line.split()[-1] for line in out.splitlines()[1:-1]}
    assert table == {
        "R58M12345ABC": "updated",
        "emulator-5554": "registered",
        "ZY22K4XJQP": "ignored",
        "9A9X1ZZZ": "unauthorized",
        "GONE0001": "missing",
    }
    assert "host rack-a: 1 ignored, 1 missing, 1 registered, 1 unauthorized, 1 updated" in out
    [new] = [
        d for d in Device.objects.all() if d.capabilities.get("appium:udid") == "emulator-5554"
    ]
    assert (new.name, new.host, new.backend) == ("sdk-gphone64-x86-64-5554", "rack-a", "appium")
    assert new.appium_url == "http://127.0.0.1:4723"
    assert new.system_port is not None and new.mjpeg_server_port is not None
    old.refresh_from_db(), refused.refresh_from_db(), gone.refresh_from_db()
    assert old.health == "online" and old.last_seen_at is not None
    assert (refused.health, refused.health_detail) == ("offline", "adb reports unauthorized")
    assert gone.health == "offline" and "adb does not list it" in gone.health_detail


def test_discovery_is_idempotent(fake_adb, capsys):
    discover(capsys)
    ports = list(Device.objects.values_list("name", "system_port", "mjpeg_server_port"))
    out = discover(capsys)
    assert out.splitlines()[-1] == "host rack-a: 2 ignored, 2 unchanged"
    assert list(Device.objects.values_list("name", "system_port", "mjpeg_server_port")) == ports


def test_a_dry_run_changes_nothing(fake_adb, capsys):
    out = discover(capsys, "--dry-run")
    assert "registered" in out and "dry run, nothing changed" in out
    assert Device.objects.count() == 0


def test_two_phones_of_one_model_get_distinct_names(fake_adb, capsys):
    fake_adb(
        "List of devices attached\nAAAA1234 device model:Pixel_7\nBBBB1234 device model:Pixel_7\n"
    )
    discover(capsys)
    assert sorted(Device.objects.values_list("name", flat=True)) == [
        "pixel-7-1234",
        "pixel-7-1234-2",
    ]


def test_a_missing_adb_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="adb is not installed"):
        call_command("discover_devices")


def test_the_admin_queues_discovery_on_each_selected_devices_host(admin_client):
    a, b = known("a", "S1"), make_device("b", host="rack-b")
    admin_client.post(
        "/admin/devices/device/",
        {"action": "discover_on_hosts", "_selected_action": [a.pk, b.pk]},
    )
    queued = sorted((row.key, row.task["func"], *row.task["args"]) for row in OrmQ.objects.all())
    task = "posting.tasks.discover_devices_task"
    assert queued == [("rack-a", task, "rack-a"), ("rack-b", task, "rack-b")]


def test_the_host_task_registers_and_returns_the_table(fake_adb):
    from posting.tasks import discover_devices_task

    table = discover_devices_task("rack-a")
    assert "emulator-5554" in table and "registered" in table
    assert Device.objects.filter(host="rack-a").count() == 2
