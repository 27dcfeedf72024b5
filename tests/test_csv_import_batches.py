"""import_jobs across its batches: a repeated job id is refused naming its first line wherever
the two lines fall, and exactly the jobs the import added enter the pass history."""

import os
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posting import csv_import
from posting.csv_import import ImportRefused, import_jobs
from posting.models import EntryReason, Job, PassEntry

pytestmark = pytest.mark.django_db

HEADER = "job_id,account,video_path,caption\n"


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(csv_import, "BATCH", 3)


def rows(*job_ids: str) -> str:
    return "".join(f"{job_id},@a,{job_id}.mp4,x\n" for job_id in job_ids)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.csv"
    path.write_text(text)
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        import_jobs(path)
    return [str(p) for p in refused.value.problems]


def test_a_job_id_repeated_batches_later_is_refused_naming_its_first_line(tmp_path):
    path = write(tmp_path, HEADER + rows("J1", "J2", "J3", "J4", "J5", "J6", "J2", "J7", "J2"))
    assert problems_of(path) == [
        "line 8, column job_id: 'J2' already on line 3",
        "line 10, column job_id: 'J2' already on line 3",
    ]
    assert Job.objects.count() == 0


def test_a_repeat_after_a_bad_row_is_still_reported(tmp_path):
    # The bad row stops the writing in the first batch: later repeats are found all the same.
    text = HEADER + rows("J1") + ",@a,x.mp4,x\n" + rows("J3", "J4", "J5", "J3", "J1")
    assert problems_of(write(tmp_path, text)) == [
        "line 3, column job_id: is empty",
        "line 7, column job_id: 'J3' already on line 4",
        "line 8, column job_id: 'J1' already on line 2",
    ]


def test_a_stored_job_repeated_in_the_file_is_refused_naming_its_first_line(tmp_path):
    import_jobs(write(tmp_path, HEADER + rows("S1")))
    path = write(tmp_path, HEADER + rows("N1", "S1", "N2", "N3", "N4", "S1"))
    assert problems_of(path) == ["line 7, column job_id: 'S1' already on line 3"]
    assert list(Job.objects.values_list("job_id", flat=True)) == ["S1"]


def test_a_repeat_read_from_a_pipe_names_its_first_line(tmp_path, monkeypatch):
    reading, writing = os.pipe()
    os.write(writing, (HEADER + rows("J1", "J2", "J3", "J4", "J1")).encode())
    os.close(writing)
    with open(reading, "rb") as pipe:
        monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": pipe})())
        with pytest.raises(CommandError):
            call_command("import_jobs", "-", stderr=(report := StringIO()))
    assert "line 6, column job_id: 'J1' already on line 2" in report.getvalue()


def test_only_the_jobs_the_import_added_enter_the_pass_history(tmp_path):
    import_jobs(write(tmp_path, HEADER + rows("S1", "S2")))
    import_jobs(write(tmp_path, HEADER + rows("S1", "N1", "N2", "S2", "N3", "N4", "N5")))
    entered = PassEntry.objects.filter(entered_by=EntryReason.IMPORT)
    assert sorted(entered.values_list("job__job_id", flat=True)) == [
        "N1",
        "N2",
        "N3",
        "N4",
        "N5",
        "S1",
        "S2",
    ]
    assert Job.objects.count() == 7


class _RolledBack(Exception):
    pass


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    stored=st.sets(st.sampled_from("ABCDEF"), max_size=3),
    job_ids=st.lists(st.sampled_from("ABCDEFGHIJKL"), min_size=1, max_size=14),
    batch=st.integers(1, 5),
)
def test_every_repeat_is_named_with_its_first_line_whatever_the_batches(
    tmp_path, monkeypatch, stored, job_ids, batch
):
    """Ids stored before and ids the file adds, repeated anywhere: each later occurrence is
    refused naming the first line, and a file without repeats imports every new id."""
    monkeypatch.setattr(csv_import, "BATCH", batch)
    first_line: dict[str, int] = {}
    expected = []
    for line, job_id in enumerate(job_ids, start=2):
        if job_id in first_line:
            expected.append(
                f"line {line}, column job_id: {job_id!r} already on line {first_line[job_id]}"
            )
        first_line.setdefault(job_id, line)

    def check():
        if stored:
            import_jobs(write(tmp_path, HEADER + rows(*sorted(stored))))
        path = write(tmp_path, HEADER + rows(*job_ids))
        if expected:
            assert problems_of(path) == expected
            assert set(Job.objects.values_list("job_id", flat=True)) == stored
        else:
            summary = import_jobs(path)
            assert summary.created == len(set(job_ids) - stored)
            added = PassEntry.objects.filter(entered_by=EntryReason.IMPORT).count()
            assert added == len(stored | set(job_ids))
        raise _RolledBack

    try:
        with transaction.atomic():
            check()
    except _RolledBack:
        pass


def test_a_file_changed_under_the_import_still_refuses_the_repeat_without_its_line(
    tmp_path, monkeypatch
):
    path = write(tmp_path, HEADER + rows("J1", "J2", "J3", "J4", "J1"))
    place_repeats = csv_import.JobImporter._place_repeats

    def saved_again_meanwhile(importer, source):
        path.write_text(HEADER + rows("K1"))  # an operator saves a corrected file
        place_repeats(importer, source)

    monkeypatch.setattr(csv_import.JobImporter, "_place_repeats", saved_again_meanwhile)
    assert problems_of(path) == ["line 6, column job_id: 'J1' is on an earlier line"]
    assert Job.objects.count() == 0
