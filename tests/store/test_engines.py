"""The engines' settings (issue 11): SQLite syncs at WAL checkpoints, not every commit;
PostgreSQL sends no ping at each checkout, yet a connection that died while idle is
replaced before a request sees it."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from trialhub.store import dialect, writer_queue
from trialhub.store.types import UTCDateTime


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
def test_postgresql_sessions_run_in_utc_and_times_come_back_as_datetime_utc(
    pg_url: str,
) -> None:
    """Issue 11: whatever the server's time zone, the sessions say UTC, so psycopg gives
    `datetime.UTC` times that the column type keeps as they are (converting each from the
    server's zone was 7 % of a worker's batch). A URL that sets its own options keeps them."""
    engine = dialect.make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == "UTC"
        stored = conn.execute(text("SELECT now()")).scalar()
        assert stored.tzinfo is UTC
        loaded = UTCDateTime().process_result_value(stored, conn.dialect)
        assert loaded is stored  # nothing converted
    engine.dispose()
    own = make_url(pg_url).update_query_dict({"options": "-c timezone=Asia/Tokyo"})
    engine = dialect.make_engine(own.render_as_string(hide_password=False))
    with engine.connect() as conn:
        assert conn.execute(text("SHOW timezone")).scalar() == "Asia/Tokyo"
        stored = conn.execute(text("SELECT now()")).scalar()
        loaded = UTCDateTime().process_result_value(stored, conn.dialect)
        assert loaded is not None
        assert loaded.tzinfo is UTC  # converted
        assert loaded == stored
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
    monkeypatch.setattr(writer_queue, "SQLITE_BUSY_SECONDS", 2)  # a turn never handed on: 2 s
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


def _other_process_can_lock(path: Path) -> bool:
    """Whether another process could take the writers' file lock now: a second open of the
    file is its own open file description, so `flock` treats it as another process would."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops the lock if it was had
    return True


def test_sqlite_writers_of_every_process_queue_on_a_file_beside_the_database(
    tmp_path: Path,
) -> None:
    """Issue 11: `serve --workers 2` on SQLite had a p99 30 x its median, its processes
    meeting SQLite's sleeping busy handler. A write transaction holds `<db>.writer-lock`
    from its first write until its commit has landed; reads never take it."""
    engine = dialect.make_engine(f"sqlite:///{tmp_path}/t.db")
    lock = tmp_path / "t.db.writer-lock"
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    seen: list[tuple[bool, int]] = []
    reader = create_engine(f"sqlite:///{tmp_path}/t.db", poolclass=NullPool)

    @event.listens_for(engine, "commit")
    def after_the_queue(_conn: object) -> None:  # runs after the queue's own listener
        with reader.connect() as other:
            rows = other.scalar(text("SELECT count(*) FROM t")) or 0
        seen.append((_other_process_can_lock(lock), rows))

    with engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM t"))
        assert _other_process_can_lock(lock)  # a read takes no turn
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert not _other_process_can_lock(lock)  # held from the first write
        conn.commit()
    # when the next writer may go, the commit is already there for it to see
    assert seen == [(True, 1)]
    assert _other_process_can_lock(lock)
    reader.dispose()
    engine.dispose()


def test_a_writer_waits_for_another_processes_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held by another process, the turn is waited for, polled about every millisecond,
    and taken once it is free; never had within the busy timeout, the write goes on and
    SQLite's own busy timeout decides."""
    engine = dialect.make_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    other = writer_queue.FileLock(tmp_path / "t.db.writer-lock")
    # as another process: an open file description of its own
    other._fd = os.open(other.path, os.O_RDWR | os.O_CREAT, 0o600)
    other._pid = os.getpid()
    assert other.acquire(timeout=0)
    threading.Timer(0.3, other.release).start()
    began = time.monotonic()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    waited = time.monotonic() - began
    assert 0.25 <= waited < 5, waited
    monkeypatch.setattr(writer_queue, "SQLITE_BUSY_SECONDS", 0.2)
    assert other.acquire(timeout=0)  # never handed on: the write goes after 0.2 s
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (2)"))
    other.release()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 2
    engine.dispose()


def test_a_forked_process_holds_its_own_turn(tmp_path: Path) -> None:
    """A child forked after its parent opened the lock file must not share the parent's
    lock (a forked child shares the open file, and `flock` with it): it opens its own."""
    lock = writer_queue.FileLock(tmp_path / "w.lock")
    assert lock.acquire(timeout=0)
    child = multiprocessing.get_context("fork").Process(target=_try_lock, args=(lock,))
    child.start()
    child.join(10)
    assert child.exitcode == 3  # it found the parent's turn taken
    lock.release()


def _try_lock(lock: writer_queue.FileLock) -> None:
    os._exit(2 if lock.acquire(timeout=0.1) else 3)


def test_a_link_planted_as_the_lock_file_is_not_followed(tmp_path: Path) -> None:
    """The lock file is opened without following a link: one planted in its place (by
    whoever can write the directory) neither gets locked through nor stops the writes;
    they go on, queued within the process only."""
    target = tmp_path / "precious"
    target.write_text("keep")
    (tmp_path / "t.db.writer-lock").symlink_to(target)
    engine = dialect.make_engine(f"sqlite:///{tmp_path}/t.db")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _other_process_can_lock(target)  # mid-write: not locked through the link
        conn.commit()
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
    assert target.read_text() == "keep"
    engine.dispose()


def test_a_process_that_just_had_its_turn_lets_a_waiting_one_go_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Across processes the turn went to whoever asked first, and a process whose next
    writer was already queued asked first every time (the p99 of `serve --workers 2` on
    SQLite). A process that just released the turn now lets a process that waits take it."""
    monkeypatch.setattr(writer_queue, "_YIELD_SECONDS", 5.0)  # a slow machine: no race
    path = tmp_path / "w.lock"
    lock = writer_queue.FileLock(path)
    assert lock.acquire(timeout=0)
    forked = multiprocessing.get_context("fork")
    took = forked.Event()
    child = forked.Process(target=_take_and_hold, args=(path, took))
    child.start()
    while not _someone_waits(path):  # the child polls, marked as waiting
        time.sleep(0.01)
    lock.release()
    assert lock.acquire(timeout=10)  # asked again at once, as a queued writer does
    assert took.is_set()  # the waiting process went first
    lock.release()
    child.join(10)
    assert child.exitcode == 0


def _take_and_hold(path: Path, took: Any) -> None:
    lock = writer_queue.FileLock(path)
    if lock.acquire(timeout=10):
        took.set()
        time.sleep(0.2)
        lock.release()
    os._exit(0)


def _someone_waits(path: Path) -> bool:
    """Another process's waiting mark, seen from this one (what the queue itself checks)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 1)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
