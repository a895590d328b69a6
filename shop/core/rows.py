"""Model instances from one hand-written statement, for the few hot paths where the ORM's compiling costs more than the query.

Building a queryset with joins and compiling it to SQL takes a few
milliseconds of Python on every call; the statement itself takes well under
one. A ``Projection`` names the models and fields a statement reads, writes its
select list, and turns a row back into model instances with the same
database converters the ORM applies (so SQLite's decimals and booleans come
back as ``Decimal`` and ``bool``, as they do from a queryset).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]


@dataclass(frozen=True)
class Part:
    """Some fields of one model, read under a table alias (with its id, in the model's field order, as ``from_db`` wants)."""

    model: type[Model]
    alias: str
    fields: tuple[str, ...]

    @cached_property
    def _columns(self) -> list[Any]:
        wanted = {self.model._meta.get_field(name) for name in ("id", *self.fields)}
        return [column for column in self.model._meta.concrete_fields if column in wanted]

    @property
    def table(self) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    def select(self) -> str:
        return ", ".join(f"{self.alias}.{connection.ops.quote_name(column.column)}" for column in self._columns)

    def converters(self) -> list[tuple[Any, list[Converter]]]:
        return [_converters(column, self.alias) for column in self._columns]


class Lateral(NamedTuple):
    """A query to join LATERAL to another (``reseller_api.queries.key_owner_with``): its text and how many columns it gives."""

    sql: str
    columns: int


@dataclass(frozen=True)
class Projection:
    """The select list of several models' fields and the way back from a row to instances."""

    parts: tuple[Part, ...]
    _converters: dict[str, list[list[tuple[Any, list[Converter]]]]] = field(default_factory=dict, repr=False, compare=False)

    def select(self) -> str:
        return ", ".join(part.select() for part in self.parts)

    @property
    def width(self) -> int:
        """How many columns ``select`` names."""
        return sum(len(part._columns) for part in self.parts)

    def instances(self, row: Sequence[Any]) -> list[Model | None]:
        """One instance per part, in order; None for a part whose id is NULL (an outer join that found nothing)."""
        db = _database()
        per_part = self._converters.get(db.vendor)
        if per_part is None:
            per_part = self._converters[db.vendor] = [part.converters() for part in self.parts]
        result: list[Model | None] = []
        position = 0
        for part, converters in zip(self.parts, per_part, strict=True):
            values = []
            for value, (expression, functions) in zip(row[position : position + len(converters)], converters, strict=True):
                values.append(_convert(value, expression, functions, db))
            position += len(converters)
            names = [column.attname for column in part._columns]
            primary_key = values[[column.primary_key for column in part._columns].index(True)]
            result.append(None if primary_key is None else part.model.from_db(db.alias, names, values))
        return result


def converted(value: Any, field: Field) -> Any:
    """A value a statement read for ``field`` (a scalar subquery, say), converted as the ORM converts that field's column."""
    return _convert(value, *_converters(field, field.model._meta.db_table), _database())


def _converters(field: Field, alias: str) -> tuple[Any, list[Converter]]:
    """The column expression of ``field`` under ``alias`` and the functions the ORM applies to a value read for it."""
    db = _database()
    expression = field.get_col(alias)
    return expression, db.ops.get_db_converters(expression) + field.get_db_converters(db)


def _convert(value: Any, expression: Any, functions: list[Converter], db: BaseDatabaseWrapper) -> Any:
    for function in functions:
        value = function(value, expression, db)
    return value


def insert_parts(instance: Model, *, fields: Sequence[str] | None = None) -> tuple[str, list[str], list[Any]]:
    """(quoted table, quoted columns, prepared values) of a new row for ``instance``: what the ORM's insert would send.

    It runs the fields' ``pre_save`` (``auto_now_add`` and the like) and their
    database preparation, as the ORM does. ``fields`` (attribute names) limits the
    columns to those, in that order; by default every column but the primary key.
    """
    meta = instance._meta
    if fields is None:
        fields = [field for field in meta.concrete_fields if not field.primary_key]
    else:
        by_attname = {field.attname: field for field in meta.concrete_fields}
        fields = [by_attname[name] for name in fields]
    db = _database()
    quote = db.ops.quote_name
    values = [field.get_db_prep_save(field.pre_save(instance, True), db) for field in fields]
    return quote(meta.db_table), [quote(field.column) for field in fields], values


def inserted(instance: Model, pk: Any) -> Model:
    """Mark ``instance`` as the saved row ``pk``."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def prepared_cursor() -> CursorWrapper:
    """A cursor for the hot statements: on PostgreSQL (``config.postgresql``) each is parsed and planned once per
    connection, then only executed; elsewhere Django's cursor. Their parameters are bound on the server, so a
    statement's text must not change with its values (an array parameter, not a list of placeholders)."""
    db = _database()
    make = getattr(db, "prepared_cursor", None)
    return make() if make is not None else db.cursor()


def _database() -> BaseDatabaseWrapper:
    """This thread's connection itself: ``django.db.connection`` is a proxy that looks it up on every attribute read,
    and the ORM's field methods read it dozens of times a row (2.7 ms of every 37 in a profile of the API's add)."""
    return connections[DEFAULT_DB_ALIAS]
