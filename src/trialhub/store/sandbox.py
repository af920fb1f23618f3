"""The sandbox clock's offset, stored so that the server, the worker and the CLI share it."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update

from trialhub.store import tables
from trialhub.store.db import Database


def load_offset(db: Database) -> timedelta | None:
    """How far the sandbox clock runs ahead; None when the database is not a sandbox."""
    with db.engine.connect() as conn:
        value = conn.execute(
            select(tables.sandbox_clock.c.offset_us).where(tables.sandbox_clock.c.id == 1)
        ).scalar()
    return None if value is None else timedelta(microseconds=int(value))


def save_offset(db: Database, offset: timedelta, now: datetime) -> None:
    micros = offset // timedelta(microseconds=1)
    with db.engine.begin() as conn:
        changed = conn.execute(
            update(tables.sandbox_clock)
            .where(tables.sandbox_clock.c.id == 1)
            .values(offset_us=micros, updated_at=now)
        ).rowcount
        if not changed:
            conn.execute(
                tables.sandbox_clock.insert().values(id=1, offset_us=micros, updated_at=now)
            )
