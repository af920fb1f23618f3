"""Everything that differs between SQLite and PostgreSQL (architecture 10): the engine's
set-up, batch migrations, stored time zones, row locks and upserts.

SQLite serializes writers on the whole file, so its statements need no row lock; PostgreSQL
gets `FOR UPDATE` (and `SKIP LOCKED` where racing workers should take other rows).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

POSTGRESQL = "postgresql"
SQLITE = "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == SQLITE:
        kwargs["connect_args"] = {"check_same_thread": False}
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["poolclass"] = NullPool
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == POSTGRESQL and parsed.drivername == POSTGRESQL:
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs["pool_pre_ping"] = True
    return create_engine(parsed, **kwargs)


def begin_migrations(connection: Connection) -> None:
    """Batch migrations copy tables on SQLite: foreign keys must not be enforced meanwhile."""
    if connection.dialect.name == SQLITE:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()  # end the autobegun transaction: migrations run their own


def keeps_time_zone(dialect: str) -> bool:
    """Whether the database stores a datetime's zone (SQLite drops it)."""
    return dialect != SQLITE


def name_of(session: Session) -> str:
    """The dialect the session talks to ("sqlite" or "postgresql")."""
    return session.get_bind().dialect.name


def locked(stmt: Select[Any], dialect: str) -> Select[Any]:
    """The rows locked until the transaction ends, so that two writers do not both act on
    them (PostgreSQL; SQLite's writer lock already serializes them)."""
    return stmt.with_for_update() if dialect == POSTGRESQL else stmt


def skip_locked(stmt: Select[Any], dialect: str) -> Select[Any]:
    """The rows locked, skipping those another transaction holds: racing workers each take
    other rows (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time)."""
    return stmt.with_for_update(skip_locked=True) if dialect == POSTGRESQL else stmt


def among(column: Any, values: Collection[Any], dialect: str) -> ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)`, one parameter, so that the
    statement's text does not grow with a batch of hundreds of ids (psycopg parses every
    new text again, issue 11)."""
    if dialect == POSTGRESQL:
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


def upsert(table: Table, dialect: str) -> Any:
    """An INSERT of the dialect that supports `on_conflict_do_update`."""
    return (postgresql if dialect == POSTGRESQL else sqlite).insert(table)
