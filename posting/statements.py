"""The runner's per-job statements, written out once per process instead of built by the ORM.

Every job takes the same few reads, UPDATEs and one INSERT; building each through the ORM
(filters, expressions, the compiler) cost more CPU than the database spent running it. Here
each statement's SQL is cached, and only its values change. Written values go through the
fields' own `get_db_prep_save`, as the ORM's would (plain values only, no expressions); a read
is the ORM's own query, compiled once, its rows turned into instances as the ORM does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.db.models import QuerySet
from django.db.models.query import get_related_populators


@functools.lru_cache(maxsize=128)
def _update_sql(
    model: type[models.Model],
    columns: tuple[str, ...],
    increments: tuple[str, ...],
    where: str,
    vendor: str,
) -> str:
    q = connection.ops.quote_name
    column = [q(model._meta.get_field(name).column) for name in (*columns, *increments)]
    sets = [f"{c} = %s" for c in column[: len(columns)]]
    sets += [f"{c} = {c} + 1" for c in column[len(columns) :]]
    return f"UPDATE {q(model._meta.db_table)} SET {', '.join(sets)} WHERE {where}"


def _connection():
    """The default database's connection itself: `django.db.connection` looks it up again on
    each attribute, and the loops here pass it to a field's preparation many times per job."""
    return connections[DEFAULT_DB_ALIAS]


# Fields whose preparation gives a str or None back as it is (CharField.to_python and
# TextField.to_python return them unchanged; no database form differs): exact classes only,
# a subclass may prepare differently.
_TEXT_FIELDS = (models.CharField, models.TextField)


@functools.lru_cache(maxsize=512)
def _field(model: type[models.Model], name: str) -> tuple[models.Field, bool]:
    """The field, and whether a str or None passes its preparation unchanged."""
    field = model._meta.get_field(name)
    return field, type(field) in _TEXT_FIELDS


def prepared(model: type[models.Model], values: Mapping[str, object]) -> list:
    """The values (by field name) as the database takes them, through each field's own
    preparation (a text field's str or None as it is: several per statement, every job)."""
    out, db = [], _connection()
    for name, value in values.items():
        field, text = _field(model, name)
        if text and (value is None or type(value) is str):
            out.append(value)
            continue
        if isinstance(value, models.Model):  # a related instance: its key, as the ORM writes
            value = value.prepare_database_save(field)
        out.append(field.get_db_prep_save(value, db))
    return out


def update(
    model: type[models.Model],
    values: Mapping[str, object],
    where: str,
    params: Sequence,
    *,
    increments: tuple[str, ...] = (),
) -> int:
    """`UPDATE model SET values (and each of `increments` to itself + 1) WHERE where`; the row
    count. `where` is SQL on the table's own columns with %s placeholders for `params`
    (already in the database's form)."""
    sql, all_params = update_statement(model, values, where, params, increments=increments)
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return cursor.rowcount


def update_statement(
    model: type[models.Model],
    values: Mapping[str, object],
    where: str,
    params: Sequence,
    *,
    increments: tuple[str, ...] = (),
) -> tuple[str, list]:
    """`update`'s SQL and parameters, for a caller that sends it inside a larger statement."""
    sql = _update_sql(model, tuple(values), increments, where, connection.vendor)
    return sql, [*prepared(model, values), *params]


def merges_writes() -> bool:
    """Whether one statement may chain writes (an UPDATE's RETURNING feeding another write in
    a WITH query): PostgreSQL. Where each write is its own statement, a round trip costs
    nothing (SQLite runs in the process)."""
    return connection.vendor == "postgresql"


def update_returning(
    model: type[models.Model],
    values: Mapping[str, object],
    where: str,
    params: Sequence,
    returning: tuple[str, ...],
    *,
    increments: tuple[str, ...] = (),
) -> tuple | None:
    """`update` of at most one row that also returns these columns as it left them (None: no
    row updated). Needs UPDATE ... RETURNING (see `supports_returning`)."""
    sql, all_params = update_statement(model, values, where, params, increments=increments)
    sql += " RETURNING " + ", ".join(connection.ops.quote_name(c) for c in returning)
    with connection.cursor() as cursor:
        cursor.execute(sql, all_params)
        return cursor.fetchone()


def supports_returning() -> bool:
    """UPDATE ... RETURNING: SQLite 3.35+ and PostgreSQL (what INSERT ... RETURNING needs too)."""
    return connection.features.can_return_columns_from_insert


@functools.lru_cache(maxsize=16)
def _insert_sql(model: type[models.Model], vendor: str) -> tuple[str, tuple]:
    q = connection.ops.quote_name
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(q(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {q(model._meta.db_table)} ({columns}) VALUES ({marks})"
    if connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {q(model._meta.pk.column)}"
    return sql, fields


def insert(instance: models.Model) -> models.Model:
    """Insert a new instance as `save()` would (each field's pre_save, then its preparation),
    by a statement written once; the instance gets its primary key."""
    db = _connection()
    sql, fields = _insert_sql(type(instance), db.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, True), db) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            instance.pk = cursor.fetchone()[0]
        else:
            instance.pk = cursor.lastrowid
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def insert_from(instance: models.Model, source: str, taken: Mapping[str, str]) -> tuple[str, list]:
    """`insert`'s statement as `INSERT ... SELECT ... FROM source RETURNING pk`, for a WITH
    query: the fields named in `taken` get those SQL expressions on `source`'s columns, the
    others their values as `insert` writes them. One row per row of `source`."""
    db = _connection()
    sql, fields = _insert_sql(type(instance), db.vendor)
    head = sql[: sql.index(" VALUES (")]
    q = db.ops.quote_name
    values, params = [], []
    for f in fields:
        if f.name in taken:
            values.append(taken[f.name])
        else:
            values.append("%s")
            params.append(f.get_db_prep_save(f.pre_save(instance, True), db))
    returning = f" RETURNING {q(instance._meta.pk.column)}"
    return f"{head} SELECT {', '.join(values)} FROM {source}{returning}", params


def claimed_and_opened(
    claim: tuple[str, list], opening: tuple[str, list], columns: Sequence[str]
) -> tuple | None:
    """A claim and the attempt it opens, in one statement (PostgreSQL): `claim`, an UPDATE
    ... RETURNING these `columns` and `id`, runs as the WITH query `claimed`; `opening`, an
    INSERT ... SELECT from it (`insert_from`), as `opened`. The claimed row's `columns` and
    the attempt's key, or None when nothing was claimed (nor inserted); an insert the
    database refuses fails the statement, the claim with it."""
    with connection.cursor() as cursor:
        cursor.execute(*claimed_and_opened_statement(claim, opening, columns))
        return cursor.fetchone()


def claimed_and_opened_statement(
    claim: tuple[str, list], opening: tuple[str, list], columns: Sequence[str]
) -> tuple[str, list]:
    """claimed_and_opened's statement, for a caller that sends it in a message."""
    (claim_sql, claim_params), (insert_sql, insert_params) = claim, opening
    return (
        f"WITH claimed AS ({claim_sql}), opened AS ({insert_sql}) "
        f"SELECT {', '.join(columns)}, (SELECT id FROM opened) FROM claimed",
        [*claim_params, *insert_params],
    )


def inserted(instance: models.Model, pk: int) -> models.Model:
    """The instance as `insert_from`'s statement stored it, with its primary key."""
    instance.pk = pk
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


class _ReadPlan(NamedTuple):
    """A query compiled once: its SQL and constant parameters, where the one varying value
    goes, and how rows become instances (converters, fields, select_related populators)."""

    model: type[models.Model]
    sql: str
    params: tuple
    at: int
    converters: tuple
    init_list: tuple[str, ...]
    span: slice
    populators: tuple


# Stand-ins for the varying value while the query is compiled (found again among its params).
_MARKS = {int: -918_273_645, str: "\x00posting.statements\x00"}


@functools.lru_cache(maxsize=32)
def _read_plan(build: Callable[[object], QuerySet], kind: type, vendor: str) -> _ReadPlan:
    compiler = build(_MARKS[kind]).query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    (at,) = [n for n, p in enumerate(params) if p == _MARKS[kind]]
    select = compiler.select
    converters = compiler.get_converters([s[0] for s in select[: compiler.col_count]])
    fields = compiler.klass_info["select_fields"]
    span = slice(fields[0], fields[-1] + 1)
    return _ReadPlan(
        compiler.klass_info["model"],
        sql,
        tuple(params),
        at,
        tuple(converters.items()),
        tuple(f[0].target.attname for f in select[span]),
        span,
        tuple(get_related_populators(compiler.klass_info, select, connection.alias)),
    )


class Read:
    """A read compiled once (see `read`) that a caller sends with other statements
    (`in_one_message`); `instances` once its rows are loaded, None until then."""

    def __init__(self, build: Callable[[object], QuerySet], value: int | str) -> None:
        self.plan = _read_plan(build, type(value), connection.vendor)
        params = list(self.plan.params)
        params[self.plan.at] = value
        self.statement: tuple[str, list] = (self.plan.sql, params)
        self.instances: list[models.Model] | None = None

    def load(self, rows: Sequence[tuple]) -> list[models.Model]:
        """The instances of these rows (as the ORM builds them, select_related included)."""
        plan, found, db = self.plan, [], _connection()
        for row in rows:
            row = list(row)
            for position, (convert, expression) in plan.converters:
                for converter in convert:
                    row[position] = converter(row[position], expression, db)
            instance = plan.model.from_db(db.alias, plan.init_list, row[plan.span])
            for populator in plan.populators:
                populator.populate(row, instance)
            found.append(instance)
        self.instances = found
        return found

    def fetch(self) -> list[models.Model]:
        """Run the read alone and load its rows."""
        (rows,) = in_one_message([self.statement])
        return self.load(rows)


class MessageTail(Protocol):
    """Statements a caller sends after a write of its own, in the write's message
    (`in_one_message`): built when the write's moment is known, then given their rows."""

    def statements(self, now: datetime) -> list[tuple[str, list]]: ...

    def load(self, results: list[list[tuple]]) -> None: ...


def read(build: Callable[[object], QuerySet], value: int | str) -> list[models.Model]:
    """The instances `build(value)` would give (with its select_related), by its SQL compiled
    once per `build`: a module-level function of the one value that varies."""
    return Read(build, value).fetch()


@functools.cache
def _client_cursor_class() -> type | None:
    """psycopg 3's client-side binding cursor class; None under psycopg2 (imported once, not
    on every message)."""
    try:
        from psycopg import ClientCursor
    except ImportError:
        return None
    return ClientCursor


def _takes_several(cursor) -> bool:
    """Whether this cursor sends several statements in one execute: psycopg's client-side
    binding cursor (Django's default on PostgreSQL), whose simple query protocol runs them in
    order, each seeing the writes before it. Asked of the cursor the connection really
    made: server-side binding (by OPTIONS or a cursor_factory), psycopg2 and SQLite take
    one."""
    if connection.vendor != "postgresql":
        return False
    client_cursor = _client_cursor_class()
    return client_cursor is not None and isinstance(cursor.cursor, client_cursor)


def in_one_message(parts: Sequence[tuple[str, list]]) -> list[list[tuple]]:
    """Run these statements in order, each returning rows, in one round trip where the
    connection's cursor takes several at once (`_takes_several`), else one by one; each
    statement's rows. The first that fails raises and runs none after it."""
    with connection.cursor() as cursor:
        if len(parts) > 1 and _takes_several(cursor):
            # Each statement merged with its values alone, then the message sent without
            # parameters: psycopg caches how it splits a statement only up to 50 parameters
            # and 4 KB, which a whole message exceeds (its split was a tenth of a job's CPU).
            # Merging is psycopg's own work outside Django's execute: its errors (a value it
            # cannot adapt, a NUL in a text) are made Django's DatabaseError as execute's are.
            with cursor.db.wrap_database_errors:
                message = "; ".join(cursor.cursor.mogrify(sql, ps) for sql, ps in parts)
            cursor.execute(message)
            results = [cursor.fetchall()]
            for _ in parts[1:]:
                cursor.nextset()
                results.append(cursor.fetchall())
            return results
        results = []
        for sql, params in parts:
            cursor.execute(sql, params)
            results.append(cursor.fetchall())
        return results
