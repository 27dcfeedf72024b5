"""Read a CSV file strictly: UTF-8 line by line, RFC 4180 quoting, every fault located.

Python's csv module is lenient unless told otherwise: an unclosed quote silently swallows the
rest of the file into one caption. Here a file that is not well-formed is refused, naming the
line (and where possible the column) at which the broken field starts, and byte offsets of
non-UTF-8 text count from the start of the file. Standard input and pipes are read once.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

BOM = b"\xef\xbb\xbf"
# A lone CR ends a line too (old spreadsheets); CRLF stays one line ending.
_AFTER_LONE_CR = re.compile(rb"(?<=\r)(?!\n)")


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        where += [f"column {self.column}"] if self.column else []
        return ": ".join([", ".join(where), self.message] if where else [self.message])


class ImportRefused(Exception):
    """The file has problems (or is not readable, well-formed CSV); nothing was written."""

    def __init__(self, problems: list[Problem], total: int | None = None) -> None:
        self.problems = problems
        self.total = total if total is not None else len(problems)
        super().__init__(f"{self.total} problems")


@contextmanager
def open_csv_source(path: str) -> Iterator[BinaryIO]:
    """The file at `path` as bytes; '-' is standard input. Refuses what is not a file."""
    if path == "-":
        yield sys.stdin.buffer
        return
    if os.path.isdir(path):
        raise ImportRefused([Problem(0, "", "is a directory, not a CSV file")])
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below, after the caller is done)
    except FileNotFoundError:
        raise ImportRefused([Problem(0, "", "no such file")]) from None
    except OSError as exc:
        raise ImportRefused([Problem(0, "", f"cannot be read: {exc.strerror}")]) from None
    with handle:
        yield handle


def decoded_lines(handle: BinaryIO) -> Iterator[str]:
    """Each line as text; a byte that is not UTF-8 is refused with its line and file offset."""
    offset = 0
    number = 0
    for raw in handle:
        # Most lines hold no lone CR: splitting them would only copy them.
        lone_cr = b"\r" in raw and raw.count(b"\r") != raw.count(b"\r\n")
        for piece in _AFTER_LONE_CR.split(raw) if lone_cr else (raw,):
            if not piece:
                continue
            number += 1
            text_bytes = piece[len(BOM) :] if number == 1 and piece.startswith(BOM) else piece
            try:
                yield text_bytes.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = _not_utf8(number, text_bytes, exc, offset + len(piece))
                raise ImportRefused([problem]) from None
            offset += len(piece)


def _not_utf8(line: int, text: bytes, exc: UnicodeDecodeError, line_end: int) -> Problem:
    position = len(text[: exc.start].decode("utf-8", "replace")) + 1
    byte_offset = line_end - len(text) + exc.start
    return Problem(
        line,
        "",
        f"byte {byte_offset} of the file (character {position} of the line, "
        f"0x{text[exc.start]:02x}) is not UTF-8: save the file as UTF-8",
    )


class StrictCsvReader:
    """Records of a CSV file with the line each starts on; malformed CSV raises ImportRefused.

    A line without a quote (most lines of most files) is one record whose cells are its text
    split at commas, which is all the csv module would make of it: such lines are split here,
    and the csv module reads from a line with a quote to the end of its record. `fast=False`
    sends every line through the csv module (the tests compare the two).
    """

    def __init__(self, lines: Iterator[str], *, fast: bool = True) -> None:
        self._lines = iter(lines)
        self._fast = fast
        self._handed: str | None = None  # the line that sends the next record to the csv module
        self._record_lines: list[str] = []
        self._reader = csv.reader(self._csv_input(), strict=True)
        self.header: list[str] = []

    def _csv_input(self) -> Iterator[str]:
        # The lines the csv module reads, remembered per record to locate a quote that is
        # never closed.
        while True:
            if self._handed is not None:
                line, self._handed = self._handed, None
            else:
                line = next(self._lines, None)
                if line is None:
                    return
            self._record_lines.append(line)
            yield line

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        read = 0  # lines read so far
        # A line shorter than the field limit cannot hold a field over it (csv's error).
        limit = csv.field_size_limit()
        for line in self._lines:
            if self._fast and '"' not in line and len(line) < limit:
                read += 1
                text = line.rstrip("\r\n")
                yield read, text.split(",") if text else []
                continue
            self._handed = line
            self._record_lines.clear()
            try:
                cells = next(self._reader)
            except csv.Error as exc:
                raise ImportRefused([self._malformed(read + 1, exc)]) from None
            start, read = read + 1, read + len(self._record_lines)
            if '"' in "".join(self._record_lines):
                self._refuse_stray_quote(start)
            yield start, cells

    def _refuse_stray_quote(self, start: int) -> None:
        """The csv module takes a quote inside an unquoted field (`ab"c`) as text; RFC 4180
        does not, and such a cell usually means a quote went missing elsewhere."""
        stray = stray_quote(self._record_lines, start)
        if stray is not None:
            line, cell = stray
            raise ImportRefused(
                [
                    Problem(
                        line,
                        self._column_name(cell),
                        'a quote (") inside a field that is not quoted: quote the whole field '
                        'and double the quote ("ab""c")',
                    )
                ]
            )

    def _malformed(self, start: int, exc: csv.Error) -> Problem:
        message = str(exc)
        if "unexpected end of data" in message:
            line, column = unclosed_quote_start(self._record_lines, start)
            return Problem(
                line,
                self._column_name(column),
                "a quoted field starts here and is never closed: the file is not well-formed "
                "CSV (every field that opens a quote must close it)",
            )
        if "field larger than field limit" in message:
            return Problem(
                start,
                "",
                f"a field of the record starting here is longer than {csv.field_size_limit()} "
                "characters (a quote that is never closed?)",
            )
        # A stray quote can pair with one on a later line, so the parser may stop lines after
        # the broken field: name the record's first line, and where the parser stopped.
        stopped = start - 1 + len(self._record_lines)
        where = f" (reading stopped on line {stopped})" if stopped != start else ""
        return Problem(start, "", f"not well-formed CSV: {message}{where}")

    def _column_name(self, index: int | None) -> str:
        if index is None:
            return ""
        return self.header[index] if index < len(self.header) else f"#{index + 1}"


def stray_quote(lines: list[str], first_line: int) -> tuple[int, int] | None:
    """The line and cell index of a quote inside an unquoted field of one record, if any."""
    in_quotes = closing = False
    at_field_start = True
    cell = 0
    for number, text in enumerate(lines, first_line):
        for char in text:
            if in_quotes:
                if closing and char == '"':
                    closing = False
                    continue
                if not closing:
                    closing = char == '"'
                    continue
                in_quotes = closing = False
            if char == '"':
                if not at_field_start:
                    return number, cell
                in_quotes, at_field_start = True, False
                continue
            at_field_start = char in ",\r\n"
            if char == ",":
                cell += 1
    return None


def unclosed_quote_start(lines: list[str], first_line: int) -> tuple[int, int | None]:
    """The line and cell index of the quoted field left open at the end of `lines`."""
    in_quotes = closing = False
    at_field_start = True
    cell = 0
    opened = (first_line, None)
    for number, text in enumerate(lines, first_line):
        for char in text:
            if in_quotes:
                if closing and char == '"':
                    closing = False  # a doubled quote inside the field
                    continue
                if not closing:
                    closing = char == '"'
                    continue
                in_quotes = closing = False
            if char == '"' and at_field_start:
                in_quotes, at_field_start, opened = True, False, (number, cell)
                continue
            at_field_start = char in ",\r\n"
            if char == ",":
                cell += 1
            elif char == "\n":
                cell = 0
    return opened
