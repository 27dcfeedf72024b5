"""Pass history through a real qcluster: two requeues later, pass 1 still reads as it ended.

Pass 1 runs failures of every category; its figures are read from the three places an operator
looks (the Passes page, the dashboard's JSON and `progress --json`); then infrastructure
failures are requeued (pass 2) and then every failure (pass 3). The three sources still agree,
pass 1's endings are unchanged, and passes 2 and 3 show what entered them and how it ended.
"""

import csv
import io
import json

import pytest

from fleetlab.processes import Fleet

pytestmark = pytest.mark.processes

SCRIPTS = {
    "d1": {"J-ok1": ["success"], "J-adb": ["adb_timeout"], "J-captcha": ["captcha"]},
    "d2": {
        "J-media": ["media_missing"],
        "J-unknown": ["unknown"],
        "J-review": ["fail_after_checkpoint"],
    },
}
ACCOUNTS = {"J-captcha": "@captcha", "J-ok2": "@two"}
# Read inside the fleet's own Django: the Passes page and the dashboard JSON, as served.
READ_CONSOLE = """
import json, re
from django.contrib.auth.models import User
from django.test import Client
user = User.objects.filter(username="reader").first() or User.objects.create_superuser("reader")
client = Client(HTTP_HOST="localhost")
client.force_login(user)
page = client.get("/admin/posting/pass/").content.decode()
rows = {}
for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
    cells = dict(re.findall(r'class="field-([a-z_]+)[^"]*">(?:<a [^>]*>)?([^<]*)', row))
    if cells.get("number"):
        rows[cells["number"]] = cells
print(json.dumps({"page": rows, "dashboard": client.get("/dashboard/data.json").json()}))
"""
PAGE_COLUMNS = {
    "entered": "entered",
    "succeeded": "success",
    "failed": "failed",
    "needs_review": "needs_review",
    "cancelled": "cancelled",
    "still_in_pass": "still_in",
    "moved_on": "moved_on",
}


def jobs_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["job_id", "account", "video_path", "caption", "device", "max_attempts"])
    for device, script in SCRIPTS.items():
        for job_id in script:
            writer.writerow(
                [job_id, ACCOUNTS.get(job_id, f"@{job_id.lower()}"), "v.mp4", "x", device, 1]
            )
    writer.writerow(["J-ok2", "@two", "v.mp4", "x", "d1", 1])
    return out.getvalue()


def from_figures(report: dict) -> dict:
    by_status = report["by_status"]
    return {
        "entered": report["entered"],
        "success": by_status.get("success", 0),
        "failed": by_status.get("failed", 0),
        "needs_review": by_status.get("needs_review", 0),
        "cancelled": by_status.get("cancelled", 0),
        "still_in": report["in_pass"],
        "moved_on": report["moved_on"],
    }


def figures_everywhere(fleet: Fleet, number: int) -> list[dict]:
    """Pass `number` as the Passes page, the dashboard JSON and progress --json give it."""
    console = json.loads(fleet.manage("shell", "-c", READ_CONSOLE).stdout.splitlines()[-1])
    page = console["page"][str(number)]
    from_page = {ours: int(page[column]) for column, ours in PAGE_COLUMNS.items()}
    [dashboard] = [p for p in console["dashboard"]["passes"] if p["number"] == number]
    progress = json.loads(fleet.manage("progress", "--json").stdout)["passes"][str(number)]
    return [from_page, from_figures(dashboard["figures"]), from_figures(progress)]


def statuses(fleet: Fleet) -> dict[str, tuple]:
    rows = fleet.query("SELECT job_id, status, pass_number FROM posting_job")
    return {r["job_id"]: (r["status"], r["pass_number"]) for r in rows}


def set_scripts(fleet: Fleet, scripts: dict) -> None:
    """The phones behave differently from now on (the next pass succeeds)."""
    for device, script in scripts.items():
        caps = json.dumps({"script": script, "verifiable": False})
        code = (
            "import json; from devices.models import Device; "
            f"Device.objects.filter(name={device!r}).update(capabilities=json.loads({caps!r}))"
        )
        fleet.manage("shell", "-c", code)


@pytest.mark.timeout(300)
def test_requeues_never_change_the_figures_of_earlier_passes(tmp_path):
    fleet = Fleet(tmp_path, Q_WORKERS="4")
    devices = [
        {"name": name, "capabilities": {"script": script, "verifiable": False}}
        for name, script in SCRIPTS.items()
    ]
    fleet.setup(devices, jobs_csv())
    try:
        fleet.start_cluster()
        fleet.wait_until(
            lambda: not any(s in ("pending", "running") for s, _ in statuses(fleet).values()),
            timeout=90,
            what="pass 1 to end",
        )
        pass_one = figures_everywhere(fleet, 1)
        assert pass_one[0] == {
            "entered": 7,
            "success": 2,
            "failed": 4,
            "needs_review": 1,
            "cancelled": 0,
            "still_in": 0,
            "moved_on": 0,
        }
        assert pass_one[1] == pass_one[0] and pass_one[2] == pass_one[0]

        set_scripts(fleet, {"d1": {}, "d2": {"J-review": ["fail_after_checkpoint"]}})
        fleet.manage("requeue_failures")  # infrastructure: J-adb into pass 2
        fleet.wait_until(
            lambda: statuses(fleet)["J-adb"] == ("success", 2), timeout=60, what="pass 2 to end"
        )
        fleet.manage("requeue_failures", "--category", "any")  # the rest into pass 3
        fleet.wait_until(
            lambda: (
                statuses(fleet)["J-media"] == ("success", 3)
                and statuses(fleet)["J-unknown"] == ("success", 3)
            ),
            timeout=60,
            what="pass 3's runnable jobs to end",
        )
    finally:
        fleet.stop_all()

    after = figures_everywhere(fleet, 1)
    assert after[1] == after[0] and after[2] == after[0]
    assert {k: v for k, v in after[0].items() if k != "moved_on"} == {
        k: v for k, v in pass_one[0].items() if k != "moved_on"
    }
    assert after[0]["moved_on"] == 4
    pass_two, pass_three = figures_everywhere(fleet, 2), figures_everywhere(fleet, 3)
    assert pass_two[0] == {
        "entered": 1,
        "success": 1,
        "failed": 0,
        "needs_review": 0,
        "cancelled": 0,
        "still_in": 0,
        "moved_on": 0,
    }
    # The captcha account is still held: its job entered pass 3 and waits there.
    assert pass_three[0] == {
        "entered": 3,
        "success": 2,
        "failed": 0,
        "needs_review": 0,
        "cancelled": 0,
        "still_in": 1,
        "moved_on": 0,
    }
    assert pass_two[1] == pass_two[0] == pass_two[2]
    assert pass_three[1] == pass_three[0] == pass_three[2]
    progress = json.loads(fleet.manage("progress", "--json").stdout)["passes"]
    assert progress["2"]["entered_by"] == {"requeue": 1}
    assert progress["3"]["entered_by"] == {"requeue": 3}
