"""The engines' settings (issue 11): SQLite syncs at WAL checkpoints, not every commit;
PostgreSQL sends no ping at each checkout, yet a connection that died while idle is
replaced before a request sees it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from trialhub.store import dialect


def test_sqlite_runs_wal_with_synchronous_normal(tmp_path: Path) -> None:
    engine = dialect.make_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_pool_fits_the_server_and_does_not_ping_each_checkout(pg_url: str) -> None:
    engine = dialect.make_engine(pg_url)
    assert engine.pool.size() == dialect.PG_POOL_SIZE
    assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_replaces_a_connection_that_died_while_idle(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dialect, "PG_PING_IDLE_SECONDS", 0.0)  # every checkout counts as idle
    engine = dialect.make_engine(pg_url)
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    other = create_engine(pg_url, poolclass=NullPool)
    with other.connect() as killer:  # the server ends it while it sits in the pool
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    other.dispose()
    with engine.connect() as conn:  # the ping finds it dead: a new connection answers
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != pid
    engine.dispose()


def test_sqlite_writers_of_one_process_queue_and_every_ending_releases_the_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writers wait on the process's lock (not SQLite's sleeping busy handler); a commit, a
    rollback or a connection returned mid-transaction each hand the turn on at once."""
    monkeypatch.setattr(dialect, "SQLITE_BUSY_SECONDS", 2)  # a turn never handed on: 2 s
    engine = dialect.make_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    began = time.monotonic()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
        conn.commit()
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (3)"))  # returned without commit
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (4)"))
    assert time.monotonic() - began < 1

    def write(i: int) -> None:
        for _ in range(20):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (:i)"), {"i": i})

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2 + 80
    engine.dispose()
