"""The optional `platform` column: new accounts get it (tiktok by default), strictly checked."""

from io import StringIO

import pytest

from posting.csv_export import export_progress
from posting.csv_import import ImportRefused, import_jobs
from posting.models import Account, Job, Platform
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def write(tmp_path, text: str):
    path = tmp_path / "jobs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        import_jobs(path)
    return [str(p) for p in refused.value.problems]


def test_new_accounts_take_the_platform_column_and_default_to_tiktok(tmp_path):
    path = write(
        tmp_path,
        "job_id,account,video_path,caption,platform\n"
        "J1,@ig,/v/1.mp4,hi,Instagram\nJ2,@tt,/v/2.mp4,hi,\nJ3,@yt,/v/3.mp4,hi,youtube\n",
    )
    import_jobs(path)
    platforms = dict(Account.objects.values_list("handle", "platform"))
    assert platforms == {"@ig": "instagram", "@tt": "tiktok", "@yt": "youtube"}


def test_a_file_without_the_column_imports_as_before(tmp_path):
    import_jobs(write(tmp_path, "job_id,account,video_path,caption\nJ1,@a,/v/1.mp4,hi\n"))
    assert Account.objects.get().platform == Platform.TIKTOK


def test_unknown_platforms_conflicts_and_changes_are_refused_with_nothing_written(tmp_path):
    make_account("@known", platform=Platform.TIKTOK)
    path = write(
        tmp_path,
        "job_id,account,video_path,caption,platform\n"
        "J1,@a,/v/1.mp4,hi,myspace\n"
        "J2,@b,/v/2.mp4,hi,instagram\n"
        "J3,@b,/v/3.mp4,hi,youtube\n"
        "J4,@known,/v/4.mp4,hi,instagram\n",
    )
    assert problems_of(path) == [
        "line 2, column platform: 'myspace' is not one of tiktok, instagram, youtube",
        "line 4, column platform: account '@b' is given platform 'instagram' on line 3",
        "line 5, column platform: account '@known' is on 'tiktok'; an account does not change "
        "platform",
    ]
    assert not Job.objects.exists()


def test_the_export_writes_the_platform_after_the_legacy_columns_and_reimports(tmp_path):
    make_account("@ig", platform=Platform.INSTAGRAM)
    import_jobs(write(tmp_path, "job_id,account,video_path,caption\nJ1,@ig,/v/1.mp4,hi\n"))
    out = StringIO()
    export_progress(Job.objects.all(), out)
    header, row = out.getvalue().splitlines()
    assert header.endswith(",post_url,platform") and row.endswith(",instagram")
    Job.objects.all().delete()
    Account.objects.all().delete()
    import_jobs(write(tmp_path, out.getvalue()))
    assert Account.objects.get(handle="@ig").platform == Platform.INSTAGRAM
