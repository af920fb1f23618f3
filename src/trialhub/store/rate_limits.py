"""Rate-limit counters in the database, shared by every process on it (rule X1).

It is the `limits` library's storage interface over one small table: one row per limit key,
counting hits until the row's window ends; the next hit after that starts a new window in
the same row (an atomic upsert), and ended rows are swept when a window starts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from limits.storage import Storage
from sqlalchemy import bindparam, case, delete, literal, select
from sqlalchemy.exc import SQLAlchemyError

from trialhub.store import dialect, tables
from trialhub.store.db import Database
from trialhub.store.types import UTCDateTime

_SWEEP_BATCH = 500
_c = tables.rate_limit_counters.c
# built once: every API request reads its limits (issue 11)
_HITS = select(_c.key, _c.hits).where(
    _c.key.in_(bindparam("keys", expanding=True)),
    _c.expires_at > bindparam("now", type_=UTCDateTime()),
)


class DatabaseStorage(Storage):
    """Fixed-window counters (limits' `FixedWindowRateLimiter`) on PostgreSQL or SQLite.

    Time comes from `now` (the application's clock), so tests and the sandbox move it.
    """

    STORAGE_SCHEME = None  # built from a Database, not from a storage URI

    def __init__(self, db: Database, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._db = db
        self._now = now

    @property
    def db(self) -> Database:
        """The database the counts are rows of (authentication reads them with the token)."""
        return self._db

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Adds `amount` to the key's window (a new one of `expiry` seconds if it ended)."""
        table = tables.rate_limit_counters
        now = self._now()
        ends = now + timedelta(seconds=expiry)
        ended = table.c.expires_at <= literal(now, UTCDateTime())
        stmt = dialect.upsert(table, self._db.dialect).values(key=key, hits=amount, expires_at=ends)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((ended, literal(amount)), else_=table.c.hits + amount),
                "expires_at": case((ended, literal(ends, UTCDateTime())), else_=table.c.expires_at),
            },
        ).returning(table.c.hits)
        with self._db.engine.begin() as conn:
            hits = int(conn.execute(stmt).scalar_one())
        if hits == amount:  # a window started: sweep ended ones (at most once a window a key)
            self._sweep(now)
        return hits

    def _sweep(self, now: datetime) -> None:
        """Deletes ended rows, a batch at a time; rows another sweep holds are skipped
        (PostgreSQL), so sweeps never wait on each other."""
        table = tables.rate_limit_counters
        ended = dialect.skip_locked(
            select(table.c.key).where(table.c.expires_at <= now).limit(_SWEEP_BATCH),
            self._db.dialect,
        )
        with self._db.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key.in_(ended.scalar_subquery())))

    def get(self, key: str) -> int:
        table = tables.rate_limit_counters
        with self._db.read_engine.connect() as conn:
            hits = conn.execute(
                select(table.c.hits).where(table.c.key == key, table.c.expires_at > self._now())
            ).scalar()
        return int(hits or 0)

    def get_many(self, keys: list[str]) -> list[int]:
        """Each key's hits in its current window, in one query: a request checks two or
        three limits before every secret it verifies (issue 11: one statement, not one a
        limit, on every authenticated request)."""
        with self._db.read_engine.connect() as conn:  # one statement: no transaction
            rows = conn.execute(_HITS, {"keys": keys, "now": self._now()})
            found = {key: hits for key, hits in rows}
        return [int(found.get(key) or 0) for key in keys]

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (seconds since the epoch, on the application's clock)."""
        table = tables.rate_limit_counters
        now = self._now()
        with self._db.read_engine.connect() as conn:
            ends = conn.execute(
                select(table.c.expires_at).where(table.c.key == key, table.c.expires_at > now)
            ).scalar()
        return (ends or now).timestamp()

    def check(self) -> bool:
        with self._db.engine.connect() as conn:
            conn.execute(select(1))
        return True

    def reset(self) -> int | None:
        with self._db.engine.begin() as conn:
            return int(conn.execute(delete(tables.rate_limit_counters)).rowcount)

    def clear(self, key: str) -> None:
        table = tables.rate_limit_counters
        with self._db.engine.begin() as conn:
            conn.execute(delete(table).where(table.c.key == key))
