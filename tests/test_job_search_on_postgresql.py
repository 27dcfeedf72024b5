"""On PostgreSQL the job list's search can answer from the job ids' trigram index.

The index is an expression index: PostgreSQL uses it only for the very expression Django writes
for `icontains` (`UPPER("job_id"::text) LIKE UPPER(...)`), so this asks the planner with the
admin's own query, on a real server, with sequential scans priced out (a few rows would
otherwise be read whole, index or not).
"""

import json

import pytest

from fleetlab.processes import Fleet

pytestmark = pytest.mark.processes

PLAN = """
import json
from django.db import connection
from django.test import RequestFactory
from django.contrib import admin
from django.contrib.auth.models import User
from posting.models import Job
request = RequestFactory().get("/admin/posting/job/", {"q": "J-00042"})
request.user = User(is_superuser=True, is_staff=True)
job_admin = admin.site._registry[Job]
found, _ = job_admin.get_search_results(request, Job.objects.all(), "j-00042")
with connection.cursor() as cursor:
    cursor.execute("SET enable_seqscan = off")
print(json.dumps({"ids": list(found.values_list("job_id", flat=True)), "plan": found.explain()}))
"""


def test_a_job_id_search_on_postgresql_reads_the_trigram_index(tmp_path, scaleout_env):
    fleet = Fleet(tmp_path, **scaleout_env)
    fleet.register_devices([{"name": "p1", "capabilities": {}}])
    rows = ["job_id,account,video_path,caption,device"]
    rows += [f"J-{n:05d},@brand,v.mp4,hi,p1" for n in range(200)]
    csv_path = tmp_path / "jobs.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    fleet.manage("import_jobs", str(csv_path))

    answer = json.loads(fleet.manage("shell", "-c", PLAN).stdout.splitlines()[-1])

    assert answer["ids"] == ["J-00042"]
    assert "posting_job_id_search" in answer["plan"]
