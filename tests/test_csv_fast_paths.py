"""The import's fast paths give the answers of the general code they stand in for."""

import csv
import os
import unicodedata
from io import BytesIO
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posting.csv_reading import _AFTER_LONE_CR, ImportRefused, StrictCsvReader, decoded_lines
from posting.input_rules import (
    _FORBIDDEN_IN_IDENTIFIERS,
    InvalidValue,
    VideoPathResolver,
    identifier,
    resolve_video_path,
)

FAST_PATH_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def video_tree(tmp_path_factory) -> str:
    """A video root with files, directories and links inside it and out of it."""
    base = tmp_path_factory.mktemp("tree")
    outside = base / "outside"
    (outside / "d").mkdir(parents=True)
    root = base / "videos"
    (root / "d" / "e").mkdir(parents=True)
    (root / "f.mp4").touch()
    (root / "d" / "f.mp4").touch()
    (root / "in").symlink_to(root / "d")
    (root / "out").symlink_to(outside)
    (root / "d" / "up").symlink_to(root.parent)
    (root / "d" / "e" / "file-out").symlink_to(outside / "d")
    (root / "d" / "e" / "file-in").symlink_to(root / "f.mp4")
    (root / "loop").symlink_to(root / "loop")
    return os.path.realpath(root)


components = st.sampled_from(
    ["d", "e", "f.mp4", "in", "out", "up", "file-in", "file-out", "loop", "missing", "..", ".", ""]
)
relative_paths = st.lists(components, min_size=1, max_size=5).map("/".join)
video_paths = st.one_of(relative_paths, relative_paths.map(lambda p: "/" + p))


def answer(resolve, value: str) -> str:
    try:
        return resolve(value)
    except InvalidValue as exc:
        return f"refused: {exc}"


@FAST_PATH_SETTINGS
@given(values=st.lists(video_paths, min_size=1, max_size=20))
def test_the_resolver_agrees_with_resolve_video_path(video_tree, values):
    resolver = VideoPathResolver(video_tree, directories=4)
    for value in values:
        expected = answer(lambda v: resolve_video_path(v, video_tree), value)
        assert answer(resolver.resolve, value) == expected


def test_the_resolver_sees_a_file_that_became_a_link_out_of_the_root(tmp_path):
    root = tmp_path / "videos"
    (root / "d").mkdir(parents=True)
    resolver = VideoPathResolver(os.path.realpath(root))
    assert resolver.resolve("d/a.mp4").endswith("/d/a.mp4")
    Path(root / "d" / "a.mp4").symlink_to(tmp_path)
    with pytest.raises(InvalidValue, match="leaves the video root"):
        resolver.resolve("d/a.mp4")


@FAST_PATH_SETTINGS
@given(value=st.text(st.characters(blacklist_categories=["Cs"])))
def test_a_printable_identifier_holds_no_forbidden_character(value):
    forbidden = [c for c in value if unicodedata.category(c) in _FORBIDDEN_IN_IDENTIFIERS]
    if value.isprintable():
        assert not forbidden
    if forbidden:
        with pytest.raises(InvalidValue, match="invisible or control character"):
            identifier(value)
    else:
        assert identifier(value) == value


@FAST_PATH_SETTINGS
@given(pieces=st.lists(st.sampled_from(["a", ",", '"', "\r", "\n", "\r\n", "é"]), max_size=40))
def test_lines_without_a_lone_cr_are_split_as_lines_with_one_are(pieces):
    data = "".join(pieces).encode()
    expected = [
        piece.decode() for raw in BytesIO(data) for piece in _AFTER_LONE_CR.split(raw) if piece
    ]
    assert list(decoded_lines(BytesIO(data))) == expected


def records(data: bytes, *, fast: bool) -> list:
    """What StrictCsvReader makes of `data`: its records, or the problem that refuses it."""
    reader = StrictCsvReader(decoded_lines(BytesIO(data)), fast=fast)
    out: list = []
    try:
        for line, cells in reader:
            out.append((line, cells))
            reader.header = reader.header or cells
    except ImportRefused as refused:
        out.append([str(p) for p in refused.problems])
    return out


csv_pieces = st.lists(
    st.sampled_from(["a", "b ", ",", '"', '""', "\r", "\n", "\r\n", "é", "\x00", ""]),
    max_size=60,
)


@FAST_PATH_SETTINGS
@given(pieces=csv_pieces)
def test_lines_without_quotes_split_as_the_csv_module_reads_them(pieces):
    data = "".join(pieces).encode()
    assert records(data, fast=True) == records(data, fast=False)


@FAST_PATH_SETTINGS
@given(pieces=csv_pieces)
def test_a_line_over_the_field_limit_is_left_to_the_csv_module(pieces):
    data = "".join(pieces).encode()
    previous = csv.field_size_limit(6)
    try:
        assert records(data, fast=True) == records(data, fast=False)
    finally:
        csv.field_size_limit(previous)


def test_the_fast_path_keeps_line_numbers_across_quoted_records():
    data = b'h1,h2\r\na,b\r\n"multi\r\nline",c\r\n\r\nd,e\r\n"open,f\r\n'
    assert records(data, fast=True)[:-1] == [
        (1, ["h1", "h2"]),
        (2, ["a", "b"]),
        (3, ["multi\r\nline", "c"]),
        (5, []),
        (6, ["d", "e"]),
    ]
    assert records(data, fast=True) == records(data, fast=False)
