"""Hand-written SQL for the hot paths, answering with ordinary model instances.

Building and compiling a queryset is most of what a simple ORM read costs here: profiled over a
manifest lifecycle, Django's query building and SQL compiler took ~43 % of the server's CPU, more
than the driver and the database together (docs/benchmarks.md). For the few statements that every
manifest step runs (the caller's token, the locked manifest, its rows, the update, the signature,
the stream head), this module builds the SQL once per shape, keeps it, and turns the rows into model
instances with the same converters the ORM applies (``Model.from_db``), so the rest of the code sees
no difference. Statements go through Django's cursor: transactions, the query log and
``assertNumQueries`` see them as usual.

``where`` and ``order_by`` are SQL written by the caller with ``%s`` placeholders for the values;
column names are the models' own (``"order"`` needs quoting). What a shape may not do: joins,
annotations, anything a plain ``SELECT <the model's columns> FROM <its table>`` cannot say; use the
ORM for those.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models.expressions import Col

M = TypeVar("M", bound=models.Model)

Converter = Callable[[Any, Any, Any], Any]

_lock = threading.Lock()
_selects: dict[tuple[Any, ...], _Shape] = {}
_updates: dict[tuple[Any, ...], tuple[str, list[models.Field[Any, Any]]]] = {}
_inserts: dict[tuple[Any, ...], tuple[str, list[models.Field[Any, Any]], bool]] = {}


def _column(field: Any) -> str:
    column = field.column
    assert column is not None
    return str(column)


def _converters(connection: Any, model: type[models.Model], offset: int = 0) -> list[tuple[int, list[Converter], Col]]:
    """Per column, what the ORM's compiler would apply to the value read (backend, then field)."""
    out = []
    for index, field in enumerate(model._meta.concrete_fields):
        col = Col(model._meta.db_table, field)
        chain = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
        if chain:
            out.append((offset + index, chain, col))
    return out


class _Shape:
    """A SELECT built once: its SQL, and how to cut a row into the model and its related models."""

    def __init__(
        self,
        connection: Any,
        model: type[models.Model],
        where: str,
        related: tuple[str, ...],
        order_by: str,
        for_update: bool,
        limit: int | None,
    ) -> None:
        qn = connection.ops.quote_name
        meta = model._meta
        self.parts: list[tuple[type[models.Model], list[str], int, int]] = []  # model, attnames, start, end
        self.links: list[Any] = []  # the foreign key of each related part
        columns: list[str] = []
        joins: list[str] = []
        self.converters: list[tuple[int, list[Converter], Col]] = []
        for n, part_model in enumerate([model, *(meta.get_field(name).related_model for name in related)]):
            assert isinstance(part_model, type) and issubclass(part_model, models.Model)
            alias = f"t{n}"
            fields = part_model._meta.concrete_fields
            start = len(columns)
            columns += [f"{alias}.{qn(f.column)}" for f in fields]
            self.parts.append((part_model, [f.attname for f in fields], start, len(columns)))
            self.converters += _converters(connection, part_model, start)
            if n:
                fk = meta.get_field(related[n - 1])
                assert isinstance(fk, models.ForeignKey), f"{related[n - 1]} is not a foreign key"
                self.links.append(fk)
                target = part_model._meta.pk
                assert target is not None
                on = f"{alias}.{qn(target.column)} = t0.{qn(fk.column)}"
                joins.append(f"LEFT JOIN {qn(part_model._meta.db_table)} {alias} ON {on}")
        sql = f"SELECT {', '.join(columns)} FROM {qn(meta.db_table)} t0 {' '.join(joins)} WHERE {where}"
        if order_by:
            sql += f" ORDER BY {order_by}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        if for_update and connection.features.has_select_for_update:
            sql += " FOR UPDATE OF t0" if related else " FOR UPDATE"
        self.sql = sql


def select(
    model: type[M],
    where: str,
    params: Sequence[Any] = (),
    *,
    related: Sequence[str] = (),
    order_by: str = "",
    for_update: bool = False,
    limit: int | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> list[M]:
    """``SELECT`` the model's columns (table alias ``t0``) ``WHERE where``: instances as the ORM
    would make them. ``related`` names foreign keys to fetch in the same statement (``LEFT JOIN``
    as ``t1``, ``t2``, …, like ``select_related`` one level deep); qualify columns then."""
    connection = connections[using]
    key = (connection.alias, connection.vendor, model, where, tuple(related), order_by, for_update, limit)
    shape = _selects.get(key)
    if shape is None:
        shape = _Shape(connection, model, where, tuple(related), order_by, for_update, limit)
        with _lock:
            _selects[key] = shape
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, list(params))
        rows = cursor.fetchall()
    out = []
    for row in rows:
        if shape.converters:
            values = list(row)
            for index, chain, col in shape.converters:
                value = values[index]
                for convert in chain:
                    value = convert(value, col, connection)
                values[index] = value
            row = values
        base_model, attnames, start, end = shape.parts[0]
        obj = base_model.from_db(using, attnames, row[start:end])
        for (part_model, part_attnames, p_start, p_end), fk in zip(shape.parts[1:], shape.links, strict=True):
            values = row[p_start:p_end]
            fk.set_cached_value(obj, None if values[0] is None else part_model.from_db(using, part_attnames, values))
        out.append(obj)
    return out  # type: ignore[return-value]


def select_one(
    model: type[M],
    where: str,
    params: Sequence[Any] = (),
    *,
    related: Sequence[str] = (),
    for_update: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> M | None:
    rows = select(model, where, params, related=related, for_update=for_update, limit=1, using=using)
    return rows[0] if rows else None


def in_bulk(
    model: type[M], ids: Sequence[int], *, related: Sequence[str] = (), using: str = DEFAULT_DB_ALIAS
) -> dict[int, M]:
    """Instances by primary key (the ids in one ``IN`` list; shapes are kept per list length)."""
    ids = sorted({int(i) for i in ids})
    if not ids:
        return {}
    pk = connections[using].ops.quote_name(_column(model._meta.pk))
    rows = select(model, f"t0.{pk} IN ({', '.join(['%s'] * len(ids))})", ids, related=related, using=using)
    return {int(row.pk): row for row in rows}


def update(obj: models.Model, fields: Sequence[str] | None = None, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """``UPDATE`` the row of ``obj``: the named fields (attribute or field names), or every concrete
    field but the key, as ``save()`` would (``auto_now`` fields take the time now)."""
    connection = connections[using]
    model = type(obj)
    key = (connection.alias, model, tuple(fields) if fields is not None else None)
    shape = _updates.get(key)
    if shape is None:
        qn = connection.ops.quote_name
        meta = model._meta
        chosen = [
            f
            for f in meta.concrete_fields
            if not f.primary_key and (fields is None or f.name in fields or f.attname in fields)
        ]
        if fields is not None and len(chosen) != len(set(fields)):
            raise ValueError(f"{model.__name__}: unknown fields in {fields!r}")
        sets = ", ".join(f"{qn(_column(f))} = %s" for f in chosen)
        sql = f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn(_column(meta.pk))} = %s"
        shape = (sql, chosen)
        with _lock:
            _updates[key] = shape
    sql, chosen = shape
    values = [f.get_db_prep_save(f.pre_save(obj, False), connection) for f in chosen]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, obj.pk])
        if cursor.rowcount != 1:
            raise model.DoesNotExist(f"{model.__name__} {obj.pk} was not updated")  # type: ignore[attr-defined]
    obj._state.adding = False
    obj._state.db = using


def insert(obj: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """``INSERT`` ``obj`` (an instance with an automatic key, not yet saved) as ``save()`` would
    (``auto_now``/``auto_now_add`` fields take the time now) and set its key."""
    insert_many([obj], using=using)
    return obj


def insert_many(objs: Sequence[M], *, using: str = DEFAULT_DB_ALIAS) -> list[M]:
    """``INSERT`` the instances (one model, automatic keys, not yet saved) in one statement, as
    ``save()`` would write each, and set their keys (``RETURNING``, in the order given)."""
    objs = list(objs)
    if not objs:
        return objs
    connection = connections[using]
    model = type(objs[0])
    if any(type(o) is not model for o in objs):
        raise ValueError("insert_many takes instances of one model")
    if any(o.pk is not None for o in objs):
        raise ValueError(f"{model.__name__} already has a key")
    returning = bool(connection.features.can_return_rows_from_bulk_insert) or len(objs) == 1
    key = (connection.alias, connection.vendor, model, len(objs))
    shape = _inserts.get(key)
    if shape is None:
        qn = connection.ops.quote_name
        meta = model._meta
        pk = meta.pk
        assert pk is not None and isinstance(pk, models.AutoField | models.BigAutoField)
        chosen = [f for f in meta.concrete_fields if not f.primary_key]
        row = f"({', '.join(['%s'] * len(chosen))})"
        sql = f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(_column(f)) for f in chosen)}) VALUES "
        sql += ", ".join([row] * len(objs))
        can_return = bool(connection.features.can_return_columns_from_insert)
        if can_return and returning:
            sql += f" RETURNING {qn(_column(pk))}"
        shape = (sql, chosen, can_return and returning)
        with _lock:
            _inserts[key] = shape
    sql, chosen, with_returning = shape
    values = [f.get_db_prep_save(f.pre_save(o, True), connection) for o in objs for f in chosen]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        if with_returning:
            for o, (pk_value,) in zip(objs, cursor.fetchall(), strict=True):
                o.pk = pk_value
        elif len(objs) == 1:
            objs[0].pk = cursor.lastrowid
    for o in objs:
        o._state.adding = False
        o._state.db = using
    return objs
