"""import_jobs: formats, legacy progress files, all-or-nothing validation, --update."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from posting.csv_import import ImportRefused, import_jobs
from posting.models import Account, Job, JobStatus, Pass
from tests.factories import make_account, make_device

pytestmark = pytest.mark.django_db

HEADER = "job_id,account,video_path,caption\n"


def write(tmp_path: Path, text: str, name: str = "jobs.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def problems_of(path: Path, **options) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        import_jobs(path, **options)
    return [str(p) for p in refused.value.problems]


def test_a_plain_jobs_file_creates_jobs_accounts_and_pass_one(tmp_path, settings):
    device = make_device("phone-1")
    path = write(
        tmp_path, HEADER.strip() + ",device\nJ1,@a,a.mp4,hi,phone-1\nJ2,@b,/abs/b.mp4,yo,\n"
    )
    summary = import_jobs(path)
    assert (summary.created, summary.accounts_created) == (2, 2)
    j1 = Job.objects.get(job_id="J1")
    assert j1.status == JobStatus.PENDING
    assert j1.video_path == str(Path(settings.VIDEO_ROOT).resolve() / "a.mp4")
    assert j1.account.device == device
    assert Job.objects.get(job_id="J2").video_path == "/abs/b.mp4"
    assert Account.objects.get(handle="@b").device is None
    assert list(Pass.objects.values_list("number", flat=True)) == [1]


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    path = write(tmp_path, HEADER + "J1,@a,a.mp4,hi\n")
    import_jobs(path)
    before = list(Job.objects.values())
    summary = import_jobs(path)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 1)
    assert list(Job.objects.values()) == before


def test_utf8_with_bom_crlf_quoted_newlines_and_emoji(tmp_path):
    text = '\ufeffjob_id,account,video_path,caption\r\nJ1,@a,a.mp4,"line one\r\nline two 🎉"\r\n'
    import_jobs(write(tmp_path, text))
    assert Job.objects.get(job_id="J1").caption == "line one\r\nline two 🎉"


def test_every_bad_row_is_reported_with_line_and_column_and_nothing_is_written(tmp_path):
    make_device("phone-1")
    text = (
        "job_id,account,video_path,caption,priority,scheduled_at,device,max_attempts\n"
        "J1,@a,a.mp4,ok,1,,phone-1,3\n"
        ",@b,b.mp4,no id,,,,\n"
        "J3,@c,c.mp4,bad priority,high,,,\n"
        "J4,@d,d.mp4,bad date,,tomorrow,,\n"
        "J5,@e,e.mp4,bad device,,,phone-9,\n"
        "J6,@f,../../etc/passwd,escape,,,,\n"
        "J1,@a,a.mp4,duplicate,1,,phone-1,3\n"
        'J8,@g,"multi\nline.mp4",spans lines,,,,0\n'
    )
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        "line 3, column job_id: is empty",
        "line 4, column priority: 'high' is not a whole number",
        "line 5, column scheduled_at: 'tomorrow' is not a date and time like "
        "2026-11-28T14:30:00+01:00",
        "line 6, column device: no device named 'phone-9' (register it first)",
        f"line 7, column video_path: '../../etc/passwd' leaves the video root "
        f"{(tmp_path / 'videos').resolve()}",
        "line 8, column job_id: 'J1' already on line 2",
        "line 9, column max_attempts: must be at least 1, not 0",
    ]
    assert Job.objects.count() == 0
    assert Account.objects.count() == 0
    assert Pass.objects.count() == 0


def test_a_file_without_required_columns_or_with_unknown_ones_is_refused(tmp_path):
    problems = problems_of(write(tmp_path, "job_id,account,caption,priorty\nJ1,@a,x,1\n"))
    assert problems[0] == "line 1, column video_path: missing required column"
    assert problems[1].startswith("line 1, column priorty: unknown column")


def test_a_row_with_the_wrong_number_of_cells_is_reported(tmp_path):
    assert problems_of(write(tmp_path, HEADER + "J1,@a,a.mp4\n")) == [
        "line 2: 3 cells, but the header has 4"
    ]


def test_a_file_that_is_not_utf8_is_refused_with_a_hint(tmp_path):
    path = write(tmp_path, HEADER + "J1,@a,a.mp4,caf\u00e9\n", encoding="latin-1")
    assert "not UTF-8" in problems_of(path)[0]


def test_check_files_refuses_missing_videos(tmp_path, settings):
    Path(settings.VIDEO_ROOT).mkdir(parents=True)
    (Path(settings.VIDEO_ROOT) / "here.mp4").write_bytes(b"video")
    path = write(tmp_path, HEADER + "J1,@a,here.mp4,x\nJ2,@a,gone.mp4,x\n")
    problems = problems_of(path, check_files=True)
    assert len(problems) == 1
    assert problems[0].startswith("line 3, column video_path: no file at")


def test_a_changed_row_is_an_error_unless_update(tmp_path):
    import_jobs(write(tmp_path, HEADER + "J1,@a,a.mp4,old caption\n"))
    changed = write(tmp_path, HEADER + "J1,@a,a.mp4,new caption\n", name="changed.csv")
    assert problems_of(changed) == [
        "line 2, column caption: differs from the stored job (use --update to change it)"
    ]
    summary = import_jobs(changed, update=True)
    assert summary.updated == 1
    assert Job.objects.get().caption == "new caption"


def test_update_changes_only_pending_or_failed_jobs(tmp_path):
    import_jobs(write(tmp_path, HEADER + "J1,@a,a.mp4,old\n"))
    Job.objects.update(status=JobStatus.SUCCESS)
    changed = write(tmp_path, HEADER + "J1,@a,a.mp4,new\n", name="changed.csv")
    assert problems_of(changed, update=True) == [
        "line 2, column caption: job is success: only pending or failed jobs change"
    ]


def test_a_job_cannot_move_to_another_account(tmp_path):
    import_jobs(write(tmp_path, HEADER + "J1,@a,a.mp4,x\n"))
    moved = write(tmp_path, HEADER + "J1,@b,a.mp4,x\n", name="moved.csv")
    assert problems_of(moved, update=True) == [
        "line 2, column account: job exists for account '@a'"
    ]


def test_an_account_bound_to_another_device_is_not_rebound_by_import(tmp_path):
    make_device("phone-1")
    make_device("phone-2")
    header = HEADER.strip() + ",device\n"
    import_jobs(write(tmp_path, header + "J1,@a,a.mp4,x,phone-1\n"))
    rebind = write(tmp_path, header + "J2,@a,b.mp4,x,phone-2\n", name="rebind.csv")
    assert "rebinding is an operator action" in problems_of(rebind)[0]


def test_dry_run_reports_and_writes_nothing(tmp_path):
    summary = import_jobs(write(tmp_path, HEADER + "J1,@a,a.mp4,x\n"), dry_run=True)
    assert summary.created == 1
    assert str(summary).startswith("would import 1 row: 1 new job")
    assert Job.objects.count() == 0


LEGACY_WITHOUT_CATEGORY = (
    "job_id,account,video_path,caption,status,worker_id,claimed_at,completed_at,error,"
    "attempts,max_attempts,retry_at,error_type\n"
    "test1,account1,/test.mp4,caption,pending,,,,,,3,,\n"
    "test2,account1,/t2.mp4,c,failed,0,2026-01-02T10:00:00,2026-01-02T10:01:00,"
    "TimeoutError: ADB timeout,3,3,,adb_timeout\n"
    "test3,account2,/t3.mp4,c,claimed,1,2026-01-02T10:05:00,,,1,3,,\n"
    "test4,account2,/t4.mp4,c,success,1,2026-01-02T10:00:00,2026-01-02T10:02:00,,1,3,,\n"
    "test5,account3,/t5.mp4,c,failed,2,,,Account suspended,1,3,,\n"
)


def test_a_legacy_progress_file_without_error_category_imports_with_its_state(tmp_path):
    import_jobs(write(tmp_path, LEGACY_WITHOUT_CATEGORY))
    jobs = {j.job_id: j for j in Job.objects.all()}
    assert jobs["test1"].status == JobStatus.PENDING
    failed = jobs["test2"]
    assert (failed.status, failed.error_type, failed.error_category) == (
        "failed",
        "adb_timeout",
        "infrastructure",
    )
    assert failed.attempts == 3
    assert failed.error == "TimeoutError: ADB timeout"
    assert jobs["test4"].status == JobStatus.SUCCESS
    assert (jobs["test5"].error_category, jobs["test5"].error_type) == ("account", "suspended")


def test_a_legacy_claimed_row_lands_in_needs_review_not_pending(tmp_path):
    import_jobs(write(tmp_path, LEGACY_WITHOUT_CATEGORY))
    job = Job.objects.get(job_id="test3")
    assert job.status == JobStatus.NEEDS_REVIEW
    assert (job.error_category, job.error_type) == ("unknown", "unverified_publish")


def test_a_progress_file_with_pass_numbers_creates_those_passes(tmp_path):
    text = (
        "job_id,account,video_path,caption,status,error,error_type,error_category,pass_number\n"
        "J1,@a,a.mp4,x,failed,Captcha required,captcha,account,2\n"
    )
    import_jobs(write(tmp_path, text))
    assert Job.objects.get().pass_number == 2
    assert set(Pass.objects.values_list("number", flat=True)) == {1, 2}


def test_a_category_that_does_not_match_its_type_is_refused(tmp_path):
    text = "job_id,account,video_path,caption,status,error,error_type,error_category\n"
    text += "J1,@a,a.mp4,x,failed,boom,captcha,infrastructure\n"
    assert problems_of(write(tmp_path, text)) == [
        "line 2, column error_category: 'infrastructure' does not go with type 'captcha'"
    ]


def test_the_command_reports_every_problem_and_fails_without_a_traceback(tmp_path):
    path = write(tmp_path, HEADER + ",@a,a.mp4,x\nJ2,,b.mp4,y\n")
    err = StringIO()
    with pytest.raises(CommandError, match="2 problems; nothing was imported"):
        call_command("import_jobs", str(path), stderr=err)
    assert "line 2, column job_id: is empty" in err.getvalue()
    assert "line 3, column account: is empty" in err.getvalue()


def test_the_command_names_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_jobs", str(tmp_path / "nope.csv"))


def test_an_account_bound_elsewhere_or_on_another_platform_is_refused(tmp_path):
    phone_1 = make_device("phone-1")
    make_device("phone-2")
    make_account("@a", device=phone_1)
    make_account("@b", device=None, platform="instagram")
    text = (
        "job_id,account,video_path,caption,device,platform\n"
        "J1,@a,a.mp4,x,phone-2,\nJ2,@b,b.mp4,x,phone-2,tiktok\nJ3,@a,c.mp4,x,,\n"
    )
    assert problems_of(write(tmp_path, text)) == [
        "line 2, column device: account '@a' is bound to device 'phone-1'; rebinding is an "
        "operator action in the admin",
        "line 3, column platform: account '@b' is on 'instagram'; an account does not change "
        "platform",
    ]
    assert not Job.objects.exists()
