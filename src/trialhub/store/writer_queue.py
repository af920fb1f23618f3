"""SQLite's writers queued by trialhub rather than by SQLite's busy handler (issue 11).

SQLite allows one writing transaction per file. A writer that finds the file taken waits in
SQLite's busy handler, which sleeps in growing steps (1, 2, 5, … up to 100 ms) and serves no
one first: under load a p99 many times the median. Every trialhub engine on a file queues its
writers instead:

- in one process, on a `threading.Lock` (the threads of a server);
- across processes (`serve --workers N`, the lifecycle worker, a CLI command), on an
  advisory `flock` of a file beside the database (`<database>.writer-lock`), polled every
  millisecond or so: the next writer goes within a millisecond of the last one's end, and
  a process that just had its turn lets a process that waits go first.

Each is taken at the transaction's first INSERT, UPDATE or DELETE and released when it ends
(once committed, or rolled back, or the connection returned, closed or invalidated); reads
are never queued (WAL readers do not wait). A lock not had within `SQLITE_BUSY_SECONDS` is gone on
without: SQLite's own busy timeout then decides, as before. Programs other than trialhub
(the sqlite3 shell) do not queue; they meet the busy handler as before.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event

log = logging.getLogger("trialhub.store")

try:  # POSIX; elsewhere processes meet SQLite's busy handler
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms trialhub runs on
    fcntl = None  # type: ignore[assignment]

# SQLite's busy timeout; a writer waits this long for each of trialhub's locks too
SQLITE_BUSY_SECONDS = 10
_WRITES = ("INSERT", "UPDATE", "DELETE")
_HOLDS_WRITER = "trialhub_holds_writer_lock"
_HOLDS_FILE = "trialhub_holds_writer_file"
_POLL_SECONDS = (0.0002, 0.0005, 0.001)  # then every millisecond
_YIELD_SECONDS = 0.005  # a process that just had its turn lets waiters go first this long


class FileLock:
    """An exclusive advisory lock on a file, shared by every process that opens it.

    Opened lazily and again after a fork: a forked child shares its parent's open file,
    and with it the parent's `flock`, so each process must hold its own."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = 0
        self._released_at = float("-inf")

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            # never through a link planted in its place: the file is only ever locked
            flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
            self._fd = os.open(self.path, flags, 0o600)
            self._pid = os.getpid()
        return self._fd

    def acquire(self, timeout: float) -> bool:
        """True once held; False if another process held it for `timeout` seconds.

        A process that waits says so while it polls (a shared record lock on byte 1 of
        the file); one that just had its turn lets such a waiter go first, for a few
        milliseconds at most, instead of taking the turn again at once because it asked
        first (its next writer was already queued in-process: under load, one process
        could keep the file for many turns in a row)."""
        fd = self._file()
        deadline = time.monotonic() + timeout
        self._let_waiters_go_first(fd, deadline)
        waiting = False
        try:
            for attempt in itertools.count():
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False
                    waiting = waiting or _mark(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    time.sleep(_POLL_SECONDS[min(attempt, len(_POLL_SECONDS) - 1)])
            raise AssertionError("unreachable")  # pragma: no cover
        finally:
            if waiting:
                _mark(fd, fcntl.LOCK_UN)

    def _let_waiters_go_first(self, fd: int, deadline: float) -> None:
        if time.monotonic() - self._released_at > _YIELD_SECONDS:
            return  # not chaining turns: nobody to let go first
        until = min(deadline, time.monotonic() + _YIELD_SECONDS)
        while time.monotonic() < until and not _mark(fd, fcntl.LOCK_EX | fcntl.LOCK_NB):
            time.sleep(_POLL_SECONDS[0])  # another process waits: its turn first
        _mark(fd, fcntl.LOCK_UN)

    def release(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._released_at = time.monotonic()


def _mark(fd: int, command: int) -> bool:
    """A record lock on byte 1 of the file (POSIX locks: per process, never in conflict
    with the process's own, and apart from `flock`'s): shared by the processes waiting for
    the turn; taken exclusively, it says whether any other process waits."""
    try:
        fcntl.lockf(fd, command, 1, 1)
    except OSError:  # held by another process the other way
        return False
    return True


def lock_file_of(database: str) -> Path | None:
    """The lock file beside a database file; None for an in-memory database."""
    if not database or database == ":memory:" or database.startswith("file:") or fcntl is None:
        return None
    return Path(f"{database}.writer-lock")


def queue_writers(engine: Engine, lock_file: Path | None) -> None:
    """Installs the queue on an SQLite engine (module docstring)."""
    lock = threading.Lock()
    across = FileLock(lock_file) if lock_file is not None else None

    def take(conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if info.get(_HOLDS_WRITER) or statement.lstrip()[:6].upper() not in _WRITES:
            return
        # past the timeout, go on without it: SQLite's own busy timeout decides
        info[_HOLDS_WRITER] = lock.acquire(timeout=SQLITE_BUSY_SECONDS)
        if across is not None and info[_HOLDS_WRITER]:
            try:
                info[_HOLDS_FILE] = across.acquire(timeout=SQLITE_BUSY_SECONDS)
            except OSError as error:  # unreadable, or a link planted in its place
                log.warning("no writer queue across processes (%s): %s", across.path, error)

    def release(info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS_FILE, False) and across is not None:
            across.release()
        if info.pop(_HOLDS_WRITER, False):
            lock.release()

    def committing(conn: Connection) -> None:
        """SQLAlchemy tells of a commit before it sends it; the turn is handed on once the
        commit is done, or the next writer would meet this one's lock and SQLite's busy
        handler (a millisecond's sleep at least). A commit that fails here is left for
        SQLAlchemy's own, which then reports it."""
        if not conn.info.get(_HOLDS_WRITER):
            return
        try:
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None:
                dbapi.commit()
        except Exception:
            pass
        finally:
            release(conn.info)

    def ended(conn: Connection) -> None:
        release(conn.info)

    # a connection returned, closed or invalidated without either ends its transaction too
    def reset(_dbapi: Any, record: Any, _state: Any) -> None:
        release(record.info)

    def closed(_dbapi: Any, record: Any) -> None:
        release(record.info)

    def invalidated(_dbapi: Any, record: Any, _error: Any) -> None:
        release(record.info)

    event.listen(engine, "before_cursor_execute", take)
    event.listen(engine, "commit", committing)
    event.listen(engine, "rollback", ended)
    event.listen(engine.pool, "reset", reset)
    event.listen(engine.pool, "close", closed)
    event.listen(engine.pool, "invalidate", invalidated)
