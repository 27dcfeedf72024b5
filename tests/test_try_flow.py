"""The flow debugger against a real Appium server with the fake driver (see
tests/test_platform_flows.py for the fake apps and how the shipped flows are run on them)."""

from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from devices.models import FlowTrial
from tests.test_platform_flows import fake_app, flows, phone  # noqa: F401 (flows: a fixture)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.appium,
    pytest.mark.usefixtures("flows"),
]


@pytest.fixture
def video(tmp_path) -> Path:
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    return path


def try_flow(capsys, device, video, *args):
    call_command("try_flow", device.name, "--platform", "tiktok", "--video", str(video), *args)
    return capsys.readouterr().out


def rows(trial: FlowTrial) -> dict[str, str]:
    return {row["step"].split(" ")[0]: row["result"] for row in trial.steps}


def test_try_flow_stops_before_publishing_and_keeps_a_screenshot_per_step(
    appium_server, tmp_path, video, capsys
):
    device = phone(appium_server, fake_app(tmp_path, "tiktok"), "tiktok")
    out = try_flow(capsys, device, video, "--account", "@fleet-tester")
    trial = FlowTrial.objects.get()
    results = [row["result"] for row in trial.steps]
    publish = next(row for row in trial.steps if row["step"].startswith("post "))
    assert publish["result"] == "stopped before publishing"
    ran = [row for row in trial.steps if row["result"] == "ok"]
    assert results == ["ok"] * len(ran) + ["stopped before publishing", "not run"]
    folder = Path(default_storage.path(trial.folder))
    assert f"screenshots and page sources: {folder}" in out
    assert len(list(folder.glob("*.png"))) == len(ran) == len(list(folder.glob("*.xml")))
    assert all(row["screenshot"] and row["ms"] >= 0 for row in ran)
    assert "stopped before publishing" in out and "trial passed" in out
    assert appium_server.sessions() == []


def test_only_naming_the_publishing_step_publishes(appium_server, tmp_path, video, capsys):
    device = phone(appium_server, fake_app(tmp_path, "tiktok"), "tiktok")
    try_flow(capsys, device, video, "--account", "@fleet-tester", "--through", "post")
    trial = FlowTrial.objects.get()
    assert [row["result"] for row in trial.steps][-2:] == ["ok", "not run"]
    with pytest.raises(CommandError, match="comes after publishing; name the publishing step"):
        try_flow(capsys, device, video, "--through", "upload finished")


def test_a_failed_step_names_the_missing_locator_and_the_matching_detectors(
    appium_server, tmp_path, video, capsys
):
    app = fake_app(
        tmp_path,
        "tiktok",
        add=('<MockText text="Log in to TikTok"/>',),
        remove="com.zhiliaoapp.musically:id/upload",
    )
    device = phone(appium_server, app, "tiktok")
    with pytest.raises(CommandError, match="did not pass"):
        try_flow(capsys, device, video)
    out = capsys.readouterr().out
    failed = next(row for row in FlowTrial.objects.get().steps if row["result"] == "failed")
    assert failed["missing_locator"] == "id=com.zhiliaoapp.musically:id/upload"
    assert failed["detectors"] == ["loggedout: log in to tiktok"]
    assert "id=com.zhiliaoapp.musically:id/upload" in out and "loggedout: log in to tiktok" in out
    first = FlowTrial.objects.get().steps[0]
    assert first["note"] == "shows '@fleet-tester' (no --account to compare)"


def test_the_admin_runs_a_trial_on_the_devices_host_and_shows_its_steps(
    appium_server, tmp_path, video, admin_client
):
    from django_q.models import OrmQ

    from posting.tasks import try_flow_task

    device = phone(appium_server, fake_app(tmp_path, "tiktok"), "tiktok")
    form = admin_client.post(
        "/admin/devices/device/",
        {"action": "try_flow", "_selected_action": [device.pk]},
    )
    assert b"stops before publishing" in form.content
    admin_client.post(
        "/admin/devices/device/",
        {
            "action": "try_flow",
            "_selected_action": [device.pk],
            "confirm": "yes",
            "platform": "tiktok",
            "video_path": str(video),
            "caption": "hello",
            "account_handle": "@fleet-tester",
        },
    )
    trial = FlowTrial.objects.get()
    [queued] = OrmQ.objects.all()
    assert (queued.key, queued.task["args"]) == (device.host, (trial.pk,))
    try_flow_task(trial.pk)
    page = admin_client.get(f"/admin/devices/device/{device.pk}/change/").content.decode()
    assert "stopped before publishing" in page
    shot = admin_client.get(f"/flow-trials/{trial.pk}/1/screenshot")
    assert shot["Content-Type"] == "image/png"
    assert b"".join(shot.streaming_content).startswith(b"\x89PNG")
