"""Everything that differs between SQLite and PostgreSQL (architecture 10): the engine's
set-up, batch migrations, stored time zones, row locks, upserts and bulk writes (`COPY`).

SQLite serializes writers on the whole file, so its statements need no row lock; PostgreSQL
gets `FOR UPDATE` (and `SKIP LOCKED` where racing workers should take other rows).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Insert,
    Select,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    exc,
    insert,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from trialhub.store import writer_queue

POSTGRESQL = "postgresql"
SQLITE = "sqlite"

# PostgreSQL's pool (per server process): the ASGI server runs sync routes on a thread pool
# of 40, so a burst of concurrent requests holds up to that many connections; keeping 20 and
# lending 20 more keeps a busy server from opening and closing connections per request
# (SQLAlchemy's 5 + 10 did, above 5 concurrent requests) while `--workers 4` stays well under
# PostgreSQL's default 100 connections. Each server process has its own pool.
PG_POOL_SIZE = 20
PG_MAX_OVERFLOW = 20
# no "SELECT 1" at every checkout (a round trip per transaction): a connection idle longer
# than this is pinged first, and none is kept longer than PG_RECYCLE_SECONDS. One that died
# under load (the server restarted) fails its request once; SQLAlchemy then invalidates
# the whole pool, so the retry gets a fresh connection.
PG_PING_IDLE_SECONDS = 10.0
PG_RECYCLE_SECONDS = 1800


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # in WAL mode NORMAL syncs at checkpoints, not at every commit: a power loss (not a
    # crash of the process) can lose the last commits, never corrupt the database
    # (docs/operations.md); FULL cost an fsync per transaction
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={writer_queue.SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def _note_checkin(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Pre-ping only a connection that sat idle (the network or the server may have dropped
    it meanwhile); a busy server's connections go out without a round trip."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since < PG_PING_IDLE_SECONDS:
        return
    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
        dbapi_connection.rollback()
    except Exception as error:  # the pool retries the checkout on a new connection
        raise exc.DisconnectionError() from error


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL (synchronous NORMAL) and a busy
    timeout; PostgreSQL a pool sized for the server and pings only after idling."""
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
        writer_queue.queue_writers(engine, writer_queue.lock_file_of(database))
        return engine
    if parsed.get_backend_name() == POSTGRESQL and parsed.drivername == POSTGRESQL:
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs.update(
        pool_size=PG_POOL_SIZE, max_overflow=PG_MAX_OVERFLOW, pool_recycle=PG_RECYCLE_SECONDS
    )
    if "options" not in parsed.query:
        # sessions in UTC whatever the server's default: psycopg then returns times in
        # `datetime.UTC`, which the column type keeps as they are instead of converting
        # each (a worker's batch reads 200,000 of them, issue 11)
        kwargs["connect_args"] = {"options": "-c timezone=UTC"}
    engine = create_engine(parsed, **kwargs)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


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


def read_locks(dialect: str) -> bool:
    """Whether `skip_locked`'s read holds the rows it returns until the transaction ends,
    each re-checked against a commit that raced it (PostgreSQL): no other transaction can
    take them meanwhile, so a claim needs no UPDATE of its own."""
    return dialect == POSTGRESQL


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


# below this many rows, one INSERT costs fewer round trips than COPY (and a sequence read)
COPY_FROM = 50


def insert_many(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool = False
) -> list[int]:
    """Writes rows of one table (all with the same keys) in the session's transaction, and
    returns their new ids in order when asked. On PostgreSQL a batch goes in with COPY: no
    statement text of thousands of parameters for the driver to parse, no round trip per
    row (the worker's batches, issue 11); elsewhere, and for a few rows, INSERT."""
    if not rows:
        return []
    name = name_of(session)
    if name != POSTGRESQL or len(rows) < COPY_FROM:
        stmt = _insert_of(table, returning=ids, in_order=name != SQLITE)
        if not ids:
            session.execute(stmt, list(rows))
            return []
        if name == SQLITE:
            # SQLAlchemy cannot batch RETURNING in parameter order on SQLite (no sentinel):
            # it sent one INSERT a row. The transaction holds SQLite's only write lock, so
            # the rows of one multi-row INSERT are numbered in their order: the ids sorted
            # are the rows' (as COPY's ids from the sequence are).
            return sorted(int(i) for i in session.execute(stmt, list(rows)).scalars())
        return [int(i) for i in session.execute(stmt, list(rows)).scalars()]
    return _copy(session, table, rows, ids=ids)


@functools.cache
def _insert_of(table: Table, *, returning: bool, in_order: bool) -> Insert:
    """Built once a table: a statement's cache key is computed once, not at each execution
    (a fifth of SQLAlchemy's cost of a small INSERT, issue 11)."""
    stmt = insert(table)
    if returning:
        return stmt.returning(table.c.id, sort_by_parameter_order=in_order)
    return stmt


def _copy(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]], *, ids: bool
) -> list[int]:
    """COPY ... FROM STDIN, each value bound as an INSERT would bind it (aware datetimes in
    UTC, JSON); the ids, when asked, are drawn from the table's sequence first."""
    conn = session.connection()
    new_ids: list[int] = []
    if ids:
        sequence = text(
            "SELECT nextval(pg_get_serial_sequence(:t, 'id')) FROM generate_series(1, :n)"
        )
        new_ids = sorted(
            int(i) for i in conn.execute(sequence, {"t": table.name, "n": len(rows)}).scalars()
        )
        rows = [{"id": i, **row} for i, row in zip(new_ids, rows, strict=True)]
    columns = list(rows[0])
    dialect = conn.dialect
    binders = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    quote = dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(
                [b(row[c]) if b else row[c] for c, b in zip(columns, binders, strict=True)]
            )
    return new_ids
