"""The import's reader thread on PostgreSQL: batches in order, errors where they belong, and
no more than two batches held."""

import threading
import time
import zoneinfo

import pytest
from django.utils import timezone

from posting.csv_import import _read_ahead


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "import-reader"]


def test_every_batch_is_handed_over_in_order():
    assert list(_read_ahead(b for b in [[1], [2, 3], [4]])) == [[1], [2, 3], [4]]
    assert list(_read_ahead(b for b in [])) == []
    assert readers() == []


def test_an_error_of_the_reader_is_raised_in_the_caller_after_the_batches_before_it():
    def batches():
        yield [1]
        raise ValueError("line 3: not well-formed")

    handed = _read_ahead(batches())
    assert next(handed) == [1]
    with pytest.raises(ValueError, match="line 3"):
        next(handed)
    assert readers() == []


def test_the_reader_reads_one_batch_ahead_and_waits():
    read = []

    def batches():
        for n in range(10):
            read.append(n)
            yield [n]

    handed = _read_ahead(batches())
    assert next(handed) == [0]
    time.sleep(0.2)  # a reader thread would read on now if it did not wait
    assert read == [0, 1]  # the caller's batch and the next one: two held at most
    handed.close()
    assert readers() == []


def test_a_caller_that_stops_early_stops_the_reader_and_closes_its_batches():
    closed = threading.Event()

    def batches():
        try:
            for n in range(1000):
                yield [n]
        finally:
            closed.set()

    handed = _read_ahead(batches())
    assert next(handed) == [0]
    handed.close()
    assert closed.is_set()
    assert readers() == []


def test_the_reader_reads_in_the_callers_time_zone():
    zones = []

    def batches():
        zones.append(timezone.get_current_timezone())
        yield [1]

    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert list(_read_ahead(batches())) == [[1]]
    assert zones == [zoneinfo.ZoneInfo("Europe/Paris")]
