"""export_progress: legacy columns first, formula-safe cells, lossless re-import."""

import csv
from io import StringIO

import pytest
from django.core.management import call_command

from posting.csv_export import export_progress
from posting.csv_format import LEGACY_COLUMNS, escape_cell, unescape_cell
from posting.csv_import import import_jobs
from posting.models import Job
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db

TRICKY = ["@friend thanks", "=1+1", "+33 6 12", "-minus", "\tTabbed", "'=quoted", "''@two", "plain"]


@pytest.mark.parametrize("text", TRICKY)
def test_escaping_then_unescaping_gives_back_the_original(text):
    assert unescape_cell(escape_cell(text)) == text


def test_cells_a_spreadsheet_would_run_get_a_leading_apostrophe():
    assert escape_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert escape_cell("@friend") == "'@friend"
    assert escape_cell("hello @friend") == "hello @friend"


def test_the_export_starts_with_the_legacy_columns_in_order():
    out = StringIO()
    export_progress(Job.objects.all(), out)
    header = next(csv.reader(StringIO(out.getvalue())))
    assert header[: len(LEGACY_COLUMNS)] == LEGACY_COLUMNS
    assert header[len(LEGACY_COLUMNS) :] == [
        "device",
        "scheduled_at",
        "priority",
        "post_url",
        "platform",
    ]


def test_export_then_import_into_a_fresh_database_is_lossless(tmp_path):
    device = make_device("phone-1")
    account = make_account("@brand", device=device)
    for index, caption in enumerate(TRICKY):
        make_job(f"J{index}", account=account, caption=caption, priority=index - 3)
    make_job(
        "F1",
        account=account,
        status="failed",
        error="Captcha required",
        error_category="account",
        error_type="captcha",
        attempts=1,
    )
    path = tmp_path / "progress.csv"
    call_command("export_progress", str(path), stdout=StringIO())

    fields = ["job_id", "caption", "priority", "status", "error", "error_category", "error_type"]
    before = list(Job.objects.order_by("job_id").values(*fields))
    Job.objects.all().delete()
    import_jobs(path)
    assert list(Job.objects.order_by("job_id").values(*fields)) == before
    assert Job.objects.get(job_id="J0").caption == "@friend thanks"
    assert Job.objects.get(job_id="J0").account.device == device
