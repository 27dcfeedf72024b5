"""import_jobs refuses what is not well-formed, in range and storable, naming file, line, column."""

import io
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from posting.csv_export import export_progress
from posting.csv_import import ImportRefused, import_jobs
from posting.models import Job
from tests.factories import make_account, make_device, make_job

pytestmark = pytest.mark.django_db

HEADER = "job_id,account,video_path,caption"


def write(tmp_path: Path, text: str | bytes, name: str = "jobs.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def problems_of(path, **options) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        import_jobs(path, **options)
    assert Job.objects.count() == 0
    return [str(p) for p in refused.value.problems]


def test_an_unclosed_quote_is_refused_at_the_line_where_the_field_starts(tmp_path):
    text = f'{HEADER}\nJ1,@a,a.mp4,fine\nJ2,@a,b.mp4,"starts here\nJ3,@a,c.mp4,later\nJ4,@a,d,x\n'
    assert problems_of(write(tmp_path, text)) == [
        "line 3, column caption: a quoted field starts here and is never closed: the file is "
        "not well-formed CSV (every field that opens a quote must close it)"
    ]


def test_text_after_a_closing_quote_is_refused(tmp_path):
    text = f'{HEADER}\nJ1,@a,a.mp4,"quoted"tail\n'
    assert problems_of(write(tmp_path, text)) == [
        "line 2: not well-formed CSV: ',' expected after '\"'"
    ]


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+02:00", "1969-12-31T23:59:59Z"]
)
def test_a_date_outside_the_supported_range_in_utc_is_refused(tmp_path, moment):
    text = f"{HEADER},scheduled_at\nJ1,@a,a.mp4,x,{moment}\n"
    [problem] = problems_of(write(tmp_path, text))
    assert problem.startswith("line 2, column scheduled_at: ")
    assert "outside the supported range" in problem


def test_a_nul_byte_in_any_cell_is_refused_naming_the_cell(tmp_path):
    text = f"{HEADER}\nJ1,@a,a.mp4,cap\x00tion\n"
    assert problems_of(write(tmp_path, text)) == [
        "line 2, column caption: contains a NUL byte (\\x00): the file is damaged or binary"
    ]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("priority", "2147483648", "must be at most 2147483647, not 2147483648"),
        ("priority", "-99999999999", "must be at least -1000000, not -99999999999"),
        ("max_attempts", "99999999999999999999", "must be at most 2147483647"),
    ],
)
def test_integers_beyond_the_column_are_refused_naming_the_cell(tmp_path, column, value, message):
    text = f"{HEADER},{column}\nJ1,@a,a.mp4,x,{value}\n"
    [problem] = problems_of(write(tmp_path, text))
    assert problem.startswith(f"line 2, column {column}: {message}")


def test_a_directory_is_refused_by_name_without_a_traceback(tmp_path):
    with pytest.raises(CommandError, match=r"is a directory, not a CSV file; nothing was imported"):
        call_command("import_jobs", str(tmp_path))


def test_a_field_over_the_size_limit_is_reported_at_its_line(tmp_path):
    text = f'{HEADER}\nJ1,@a,a.mp4,x\nJ2,@a,b.mp4,"{"y" * 200_000}"\n'
    [problem] = problems_of(write(tmp_path, text))
    assert problem.startswith("line 3: a field of the record starting here is longer than")


def test_a_late_non_utf8_byte_is_located_from_the_start_of_the_file(tmp_path):
    good = "".join(f"J{n},@a,v{n}.mp4,caption {n}\n" for n in range(5000))
    body = f"{HEADER}\n{good}".encode()
    data = body + b"J9999,@a,z.mp4,caf\xe9\n"
    [problem] = problems_of(write(tmp_path, data))
    assert problem == (
        f"line 5002: byte {len(body) + 18} of the file (character 19 of the line, 0xe9) is not "
        "UTF-8: save the file as UTF-8"
    )


def test_standard_input_imports_in_one_read(tmp_path, monkeypatch):
    data = f"{HEADER}\nJ1,@a,a.mp4,from a pipe\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    out = StringIO()
    call_command("import_jobs", "-", stdout=out)
    assert "imported 1 row: 1 new job" in out.getvalue()
    assert Job.objects.get().caption == "from a pipe"


def test_a_pipe_imports_through_the_real_command(tmp_path):
    """A named pipe cannot be read twice: the import reads it once."""
    import os
    import threading

    fifo = tmp_path / "jobs.fifo"
    os.mkfifo(fifo)
    text = f"{HEADER}\nJ1,@a,a.mp4,through a fifo\n"
    writer = threading.Thread(target=lambda: fifo.write_text(text))
    writer.start()
    import_jobs(str(fifo))
    writer.join()
    assert Job.objects.get().caption == "through a fifo"


def test_problems_of_standard_input_name_it(monkeypatch):
    data = f"{HEADER}\n,@a,a.mp4,x\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    err = StringIO()
    with pytest.raises(CommandError, match="standard input: 1 problem; nothing was imported"):
        call_command("import_jobs", "-", stderr=err)
    assert "standard input: line 2, column job_id: is empty" in err.getvalue()


def test_a_bad_row_after_many_good_batches_writes_nothing(tmp_path):
    good = "".join(f"J{n},@a{n % 7},v{n}.mp4,caption {n}\n" for n in range(4500))
    text = f"{HEADER},priority\n" + good.replace("\n", ",1\n") + "JX,@a,x.mp4,x,notanumber\n"
    assert problems_of(write(tmp_path, text)) == [
        "line 4502, column priority: 'notanumber' is not a whole number"
    ]


def test_a_bare_cr_in_a_caption_survives_export_and_import(tmp_path):
    account = make_account("@a", device=make_device("phone-1"))
    make_job("J1", account=account, caption="one\rtwo\r\nthree\nfour")
    out = StringIO()
    export_progress(Job.objects.all(), out)
    Job.objects.all().delete()
    import_jobs(write(tmp_path, out.getvalue()))
    assert Job.objects.get().caption == "one\rtwo\r\nthree\nfour"


@pytest.mark.parametrize("caption", [" =1+1", "\u00a0=cmd", "  @user", "\u200b+1", " -2"])
def test_formula_signs_after_leading_blanks_are_neutralised_and_restored(tmp_path, caption):
    account = make_account("@a", device=make_device("phone-1"))
    make_job("J1", account=account, caption=caption)
    out = StringIO()
    export_progress(Job.objects.all(), out)
    assert f",'{caption}," in out.getvalue()
    Job.objects.all().delete()
    import_jobs(write(tmp_path, out.getvalue()))
    assert Job.objects.get().caption == caption


def test_a_damaged_binary_file_is_a_command_error_naming_the_file(tmp_path):
    path = write(tmp_path, b"\x00\x01\x02binary\xff\xfe")
    err = StringIO()
    with pytest.raises(CommandError, match="1 problem; nothing was imported"):
        call_command("import_jobs", str(path), stderr=err)
    assert err.getvalue().startswith(f"{path}: line 1: byte 9 of the file (character 10")


LEGACY = (
    "job_id,account,video_path,caption,status,worker_id,claimed_at,completed_at,error,"
    "attempts,max_attempts,retry_at,error_type,error_category,pass_number"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'{HEADER}\nN1,@a,v.mp4,ab"c\n', 'line 2, column caption: a quote (") inside a field'),
        (f"{HEADER},priority\nN1,@a,v.mp4,x,1_000\n", "line 2, column priority: '1_000' is not"),
        (f"{HEADER},priority\nN1,@a,v.mp4,x,\u0663\n", "line 2, column priority: '\u0663' is not"),
        (f"{HEADER}\n\u200b,@a,v.mp4,x\n", "line 2, column job_id: contains an invisible"),
        (f'{HEADER}\n"N1\nN2",@a,v.mp4,x\n', "line 2, column job_id: contains an invisible"),
        (f'{HEADER}\nN1,"@a\nx",v.mp4,x\n', "line 2, column account: contains an invisible"),
        (
            f"{LEGACY},post_url\nL1,@a,v.mp4,c,success,,,,,1,3,,,,1,javascript:alert(1)\n",
            "line 2, column post_url: 'javascript:alert(1)' is not an http(s) address",
        ),
        (
            f"{LEGACY}\nL1,@a,v.mp4,c,pending,,,,,0,3,,captcha,infrastructure,1\n",
            "line 2, column error_category: 'infrastructure' does not go with type 'captcha'",
        ),
        (
            f"{LEGACY}\nL1,@a,v.mp4,c,success,,,,,1,3,,captcha,,1\n",
            "line 2, column error_type: a successful job has no error category or type",
        ),
    ],
)
def test_what_a_lenient_reader_would_let_through_is_refused(tmp_path, text, expected):
    [problem] = problems_of(write(tmp_path, text))
    assert problem.startswith(expected)


def test_a_symlink_inside_the_video_root_that_leads_out_is_refused(tmp_path, settings):
    root = Path(settings.VIDEO_ROOT)
    root.mkdir(parents=True)
    (root / "outside").symlink_to(tmp_path)
    [problem] = problems_of(write(tmp_path, f"{HEADER}\nN1,@a,outside/secret,x\n"))
    assert problem.startswith("line 2, column video_path: 'outside/secret' leaves the video root")
