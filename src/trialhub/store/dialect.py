"""Every SQL that differs between SQLite and PostgreSQL (architecture 10): row locks and upserts.

SQLite serializes writers on the whole file, so its statements need no row lock; PostgreSQL
gets `FOR UPDATE` (and `SKIP LOCKED` where racing workers should take other rows).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

POSTGRESQL = "postgresql"


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


def upsert(table: Table, dialect: str) -> Any:
    """An INSERT of the dialect that supports `on_conflict_do_update`."""
    return (postgresql if dialect == POSTGRESQL else sqlite).insert(table)
