"""Bulk writes of plain rows: new jobs laid out in the job table's column order, and the one
write statement each database does fastest (COPY on PostgreSQL, executemany elsewhere).

At 100,000 rows bulk_create's per-field preparation of model instances costs more than the
write itself; the import's values are already clean, so only datetimes need adapting, and the
defaults (the same for every row: created_at and updated_at are one `now`) are adapted once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, models
from django.utils import timezone

from posting.models import Job


class NewJobRows:
    """Rows for new jobs, each a list of database values in the job table's column order."""

    def __init__(self, current_pass: int) -> None:
        self.fields = [f for f in Job._meta.concrete_fields if not f.primary_key]
        now = timezone.now()
        defaults = {f.attname: f.get_default() for f in self.fields}
        defaults |= {"created_at": now, "updated_at": now, "pass_number": current_pass}
        self._current_pass = current_pass
        self._position = {f.attname: i for i, f in enumerate(self.fields)}
        self._pass_at = self._position["pass_number"]
        # SQLite stores datetimes as text the backend adapts; psycopg's COPY takes them as
        # they are.
        sqlite = connection.vendor != "postgresql"
        self._adapt = connection.ops.adapt_datetimefield_value if sqlite else None
        self._moments = {
            i for i, f in enumerate(self.fields) if isinstance(f, models.DateTimeField)
        }
        self._layouts: dict[tuple[str, ...], tuple[tuple[int, ...], tuple[int, ...]]] = {}
        if self._adapt:
            for i in self._moments:
                defaults[self.fields[i].attname] = self._adapt(defaults[self.fields[i].attname])
        self._template = [defaults[f.attname] for f in self.fields]

    def row(self, *parts: dict) -> list:
        """One job's values: `parts` (attname to value) laid over the defaults; a job without
        a pass number of its own enters the current pass."""
        values = self._template.copy()
        layouts = self._layouts
        for part in parts:
            if not part:
                continue  # a plain jobs file's rows have no legacy state
            names = tuple(part)
            positions, moments = layouts.get(names) or self._layout(names)
            for i, value in zip(positions, part.values(), strict=True):
                values[i] = value
            for i in moments:
                if values[i] is not None and isinstance(values[i], datetime):
                    values[i] = self._adapt(values[i])
        if not values[self._pass_at]:
            values[self._pass_at] = self._current_pass
        return values

    def _layout(self, names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Where each of these attnames goes, and which of those positions hold datetimes the
        database needs adapted. A file's rows share a handful of key sets, so each is worked
        out once (`row` keeps them): per row and per field, this was a tenth of a 100,000-row
        import."""
        positions = tuple(self._position[name] for name in names)
        moments = tuple(i for i in positions if i in self._moments) if self._adapt else ()
        self._layouts[names] = (positions, moments)
        return positions, moments

    def pass_number(self, row: list) -> int:
        return row[self._pass_at]

    def write(self, rows: Iterable[list]) -> None:
        """Insert rows made by `row`."""
        write_rows(Job._meta.db_table, [f.column for f in self.fields], rows)


def insert_jobs(rows: list[dict]) -> None:
    """Insert new jobs given as dicts of attname to value (COPY on PostgreSQL, one
    executemany elsewhere)."""
    if rows:
        new_rows = NewJobRows(current_pass=1)
        new_rows.write(new_rows.row(values) for values in rows)


def write_rows(table: str, columns: list[str], rows: Iterable[Sequence]) -> None:
    """Write rows of plain values: COPY on PostgreSQL, one executemany elsewhere (the fastest
    bulk write of each)."""
    quote = connection.ops.quote_name
    names = ", ".join(quote(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # psycopg's own cursor: its errors are made Django's (IntegrityError, ...) here.
            sql = f"COPY {quote(table)} ({names}) FROM STDIN"
            with connection.wrap_database_errors, cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)
