"""Pauses in the console: admin actions with confirmation and permission, waiting because,
the dashboard, progress, and query counts that do not grow with the rows."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ

from posting.models import FleetControl, PauseScope, PauseSwitch, Platform
from posting.pauses import pause
from tests.factories import make_account, make_device, make_job
from tests.test_operator_console import log_in_as

pytestmark = pytest.mark.django_db

SWITCHES = "/admin/posting/pauseswitch/"


@pytest.fixture
def operator(client, django_user_model):
    return log_in_as(client, django_user_model, "olga", "Operators")


def switch(scope, name) -> PauseSwitch:
    return PauseSwitch.objects.get(scope=scope, name=name)


def act(client, action, switches, **extra):
    data = {"action": action, "_selected_action": [s.pk for s in switches], **extra}
    return client.post(SWITCHES, data, follow=True)


@pytest.mark.django_db(transaction=True)
def test_an_operator_pauses_a_platform_after_confirming_with_a_reason_and_resumes_it(
    client, operator
):
    device = make_device("phone-1", host="rack-a")
    make_job("IG", account=make_account(device=device, platform=Platform.INSTAGRAM))
    page = client.get(SWITCHES).content.decode()
    assert "platform instagram" in page and "host rack-a" in page  # every switch is listed
    instagram = switch(PauseScope.PLATFORM, Platform.INSTAGRAM)

    page = act(client, "pause_selected", [instagram]).content.decode()
    assert 'name="reason"' in page and not switch("platform", "instagram").paused
    page = act(client, "pause_selected", [instagram], confirm="yes", reason=" ").content.decode()
    assert "Say why" in page and not switch("platform", "instagram").paused
    act(client, "pause_selected", [instagram], confirm="yes", reason="app update broke the flow")
    paused = switch("platform", "instagram")
    assert (paused.paused, paused.paused_by, paused.reason) == (
        True,
        operator,
        "app update broke the flow",
    )
    assert "app update broke the flow" in client.get(SWITCHES).content.decode()

    page = act(client, "resume_selected", [instagram]).content.decode()
    assert "Resume platform instagram" in page and switch("platform", "instagram").paused
    act(client, "resume_selected", [instagram], confirm="yes")
    resumed = switch("platform", "instagram")
    assert (resumed.paused, resumed.resumed_by) == (False, operator)
    assert OrmQ.objects.count() == 1  # the Instagram account's device was woken


def test_a_viewer_sees_the_pauses_and_may_not_flip_them(client, django_user_model):
    log_in_as(client, django_user_model, "victor", "Viewers")
    make_device("phone-1", host="rack-a")
    assert client.get(SWITCHES).status_code == 200
    rack = switch(PauseScope.HOST, "rack-a")
    response = act(client, "pause_selected", [rack], confirm="yes", reason="no")
    assert response.status_code == 403
    assert not switch(PauseScope.HOST, "rack-a").paused


@pytest.mark.parametrize(
    ("set_up", "because", "filter_value"),
    [
        ("platform", "platform instagram paused", "platform"),
        ("host", "host rack-a paused", "host"),
        ("fleet", "fleet paused", None),
    ],
)
def test_a_paused_job_says_why_it_waits_in_the_list_and_the_filter(
    admin_client, set_up, because, filter_value
):
    device = make_device("phone-1", host="rack-a")
    make_job("IG-1", account=make_account(device=device, platform=Platform.INSTAGRAM))
    make_job("TT-1", account=make_account(device=make_device(host="rack-b")))
    now = timezone.now()
    if set_up == "fleet":
        FleetControl.set_paused(True, now=now)
    else:
        name = "rack-a" if set_up == "host" else Platform.INSTAGRAM
        pause(set_up, name, now=now, reason="test")
    page = admin_client.get("/admin/posting/job/").content.decode()
    assert because in page
    if filter_value:
        filtered = admin_client.get(f"/admin/posting/job/?paused={filter_value}")
        jobs = [job.job_id for job in filtered.context["cl"].result_list]
        assert jobs == ["IG-1"]


def test_the_account_and_device_lists_mark_paused_platforms_and_hosts(admin_client):
    device = make_device("phone-1", host="rack-a")
    make_account("@ig", device=device, platform=Platform.INSTAGRAM)
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="")
    pause(PauseScope.HOST, "rack-a", now=timezone.now(), reason="")
    assert "Instagram (paused)" in admin_client.get("/admin/posting/account/").content.decode()
    assert "rack-a (paused)" in admin_client.get("/admin/devices/device/").content.decode()


def test_the_dashboard_shows_pauses_and_a_breaker_trip_needs_attention(admin_client):
    PauseSwitch.pause(
        PauseScope.PLATFORM,
        Platform.INSTAGRAM,
        now=timezone.now(),
        reason="circuit breaker: 3 instagram accounts held",
        by_breaker=True,
        accounts=["@a", "@b", "@c"],
    )
    pause(PauseScope.HOST, "rack-a", now=timezone.now(), reason="hub swap")
    data = admin_client.get("/dashboard/data.json").json()
    assert [(p["scope"], p["name"]) for p in data["pauses"]] == [
        ("host", "rack-a"),
        ("platform", "instagram"),
    ]
    assert [n["accounts"] for n in data["needs_attention"]] == [["@a", "@b", "@c"]]
    assert "paused by the circuit breaker" in data["needs_attention"][0]["text"]
    page = admin_client.get("/dashboard/").content.decode()
    assert 'id="needs-attention"' in page


def test_progress_says_what_is_paused_by_whom_and_why(admin_user):
    pause(PauseScope.HOST, "rack-a", now=timezone.now(), user=admin_user, reason="hub swap")
    out = StringIO()
    call_command("progress", stdout=out)
    assert "Paused: host rack-a paused at 2026-11-28 12:00 UTC by admin: hub swap" in out.getvalue()
    assert out.getvalue().rstrip().endswith("0 jobs: none")
    out = StringIO()
    call_command("progress", "--json", stdout=out)
    (only,) = json.loads(out.getvalue())["pauses"]
    assert (only["scope"], only["name"], only["paused_by"], only["reason"]) == (
        "host",
        "rack-a",
        "admin",
        "hub swap",
    )


def test_the_pause_command_refuses_unknown_platforms_and_hosts():
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="unknown platform 'myspace'"):
        call_command("pause", "platform", "myspace")
    with pytest.raises(CommandError, match="no device has host 'nowhere'"):
        call_command("resume", "host", "nowhere")


def populate(n: int) -> None:
    for index in range(n):
        device = make_device(host=f"host-{index}")
        platform = Platform.INSTAGRAM if index % 2 else Platform.TIKTOK
        make_job(account=make_account(device=device, platform=platform))
        if index % 3 == 0:
            pause(PauseScope.HOST, device.host, now=timezone.now(), reason="r")


@pytest.mark.parametrize(
    "url",
    [
        SWITCHES,
        "/admin/posting/job/",
        "/admin/posting/account/",
        "/admin/devices/device/",
        "/dashboard/data.json",
    ],
)
def test_pages_with_pauses_run_the_same_number_of_queries_at_10_and_1000_rows(admin_client, url):
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="r")

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(url).status_code == 200
        return len(captured)

    populate(10)
    queries()  # the first visit of the switches page creates the hosts' switches
    small = queries()
    populate(990)
    queries()
    assert queries() == small


def test_the_job_page_says_why_it_waits(admin_client):
    device = make_device("phone-1", host="rack-a")
    job = make_job("IG-1", account=make_account(device=device, platform=Platform.INSTAGRAM))
    pause(PauseScope.PLATFORM, Platform.INSTAGRAM, now=timezone.now(), reason="r")
    page = admin_client.get(f"/admin/posting/job/{job.pk}/change/").content.decode()
    assert "platform instagram paused" in page
