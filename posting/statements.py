"""The runner's per-job writes, written out once per process instead of built by the ORM.

Every job takes the same few UPDATEs and one INSERT; building each through the ORM (filters,
expressions, the compiler) cost more CPU than the database spent running it. Here each
statement's SQL is cached per model, columns and condition, and only its values change. Values
go through the fields' own `get_db_prep_save`, as the ORM's would; only plain values are
written (no expressions).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from django.db import connection, models


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


def prepared(model: type[models.Model], values: Mapping[str, object]) -> list:
    """The values (by field name) as the database takes them, through each field's own
    preparation."""
    out = []
    for name, value in values.items():
        field = model._meta.get_field(name)
        if isinstance(value, models.Model):  # a related instance: its key, as the ORM writes
            value = value.prepare_database_save(field)
        out.append(field.get_db_prep_save(value, connection))
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
    sql = _update_sql(model, tuple(values), increments, where, connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*prepared(model, values), *params])
        return cursor.rowcount


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
    sql, fields = _insert_sql(type(instance), connection.vendor)
    params = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if connection.features.can_return_columns_from_insert:
            instance.pk = cursor.fetchone()[0]
        else:
            instance.pk = cursor.lastrowid
    instance._state.adding, instance._state.db = False, connection.alias
    return instance
