"""Shared fixtures: databases (SQLite and PostgreSQL, migrated), a movable clock, the app,
and keyword-only factories with valid defaults (architecture 11).

Which database a test runs on (issue 9):
- `ctx`, `world` and `client` are on SQLite. Most tests are about rules, pages and messages,
  not the database, and a PostgreSQL twin of each would double the suite for nothing.
- A test whose subject *is* the database runs on both backends: mark it (or its module)
  `@pytest.mark.both_backends` and the same fixtures come once per backend. That is the API
  tests that exercise the store (start and list, after start, idempotency leases), the
  deadlines (claimed with dialect-specific locks), migrations and the schema.
- A test that needs PostgreSQL itself (races, crashes, locks between processes) asks for
  `pg_url` / `pg_ctx` and is marked `postgres`. `sqlite_ctx` / `sqlite_world` stay SQLite
  even in a module marked `both_backends`.
- `world` is built once per session and backend, through the use cases, and copied into each
  test's database: ask for `make_world` only for a second partner.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tests.support.apps import app_for
from tests.support.factories import Login as Login
from tests.support.factories import World as World
from tests.support.factories import make_admin as make_admin
from tests.support.factories import make_partner as make_partner
from tests.support.factories import make_world as make_world
from tests.support.factories import new_customer_body as new_customer_body
from tests.support.servers import LiveServer as LiveServer
from tests.support.servers import Receiver
from tests.support.servers import free_port as free_port
from tests.support.servers import start_live_server as start_live_server
from trialhub.bootstrap import make_context
from trialhub.clock import MovableClock
from trialhub.services.kernel import security
from trialhub.services.kernel.context import Context
from trialhub.store import db as db_module
from trialhub.store.db import Database, upgrade
from trialhub.store.tables import metadata

# Passwords are still hashed with Argon2id in every test, but with the smallest cost the
# algorithm allows (128 ms -> well under 1 ms a hash); the stored hash names its own cost, so
# verifying is unchanged. Servers started as subprocesses keep the production cost.
security._hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))

# Every test opens its own database, so SQLAlchemy compiled each statement again in every
# test (a tenth of the API tests' time): engines of one backend share one dialect and its
# compiled statements here, as one process's single engine does in production.
_shared_dialects: dict[tuple[str, str], tuple[Any, Any]] = {}
_make_engine = db_module.make_engine


def _engine_sharing_compiled_statements(url: str, **kwargs: Any) -> Any:
    engine = _make_engine(url, **kwargs)
    key = (engine.dialect.name, engine.dialect.driver)
    dialect, cache = _shared_dialects.setdefault(key, (engine.dialect, engine._compiled_cache))
    engine.dialect, engine._compiled_cache = dialect, cache
    return engine


db_module.make_engine = _engine_sharing_compiled_statements

pytest_plugins = ["tests.support.command_line"]  # `run`: the command line on a demo database

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PG_URL = os.environ.get(
    "TRIALHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
TABLES = metadata.sorted_tables


# ---- databases ---------------------------------------------------------------------------


def _pg_reachable() -> str | None:
    try:
        engine = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test copies it (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (one per xdist worker), migrated.

    Under CI=true an unreachable server fails the run instead of skipping.
    """
    problem = _pg_reachable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_URL}: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"trialhub_test_{worker}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


PgRows = dict[str, list[dict[str, Any]]]


def _capture_pg(url: str) -> PgRows:
    """Every row of every table, to put back before each test that asks for the world."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {t.name: [dict(r._mapping) for r in conn.execute(t.select())] for t in TABLES}
    engine.dispose()
    return {name: found for name, found in rows.items() if found}


@cache
def _pg_engine(url: str) -> Engine:
    """One engine per test database and process (the database is dropped at the end)."""
    return create_engine(url)


def _reset_pg(url: str, rows: PgRows) -> None:
    """Empties every table, then inserts `rows` and moves the id sequences past them.

    DELETE child tables first, not TRUNCATE: on tables of a few rows it costs 10 ms where
    TRUNCATE (new files for every table) costs 70 ms or more."""
    with _pg_engine(url).begin() as conn:
        for table in reversed(TABLES):
            conn.execute(table.delete())
        for table in TABLES:
            if table.name in rows:
                conn.execute(table.insert(), rows[table.name])
            serial = table.autoincrement_column
            if serial is not None:
                column, name = f'"{serial.name}"', f'"{table.name}"'
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', '{serial.name}'),"
                        f" coalesce((SELECT max({column}) FROM {name}), 0) + 1, false)"
                    )
                )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`@pytest.mark.both_backends` (or a module's `pytestmark`) runs the test on each backend."""
    if metafunc.definition.get_closest_marker("both_backends") and (
        "db_backend" in metafunc.fixturenames
    ):
        metafunc.parametrize("db_backend", BACKENDS)


@pytest.fixture
def db_backend() -> str:
    """SQLite unless the test is marked `both_backends` (see the rule at the top)."""
    return "sqlite"


@pytest.fixture
def db_url(request: pytest.FixtureRequest, db_backend: str, tmp_path: Path) -> str:
    """A migrated database on the test's backend: empty, or holding the world if the test
    asks for `world` (copied from the one built per session, not built again)."""
    seeded = "world" in request.fixturenames
    if db_backend == "sqlite":
        return sqlite_url_for(request, seeded, tmp_path)
    url: str = request.getfixturevalue("pg_database")
    _reset_pg(url, request.getfixturevalue("world_built_postgresql").rows if seeded else {})
    return url


def sqlite_url_for(request: pytest.FixtureRequest, seeded: bool, tmp_path: Path) -> str:
    """A copy of the migrated template, or of the world's (building is slow, copying is not)."""
    if seeded:
        template: Path = request.getfixturevalue("world_built_sqlite").file
    elif "portal" in request.fixturenames:  # tests/web: the portal's partner, built once
        template = request.getfixturevalue("portal_built").file
    else:
        template = request.getfixturevalue("sqlite_template")
    path = tmp_path / "trialhub.db"
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def sqlite_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated SQLite database, holding the world if the test asks for `sqlite_world`."""
    return sqlite_url_for(request, "sqlite_world" in request.fixturenames, tmp_path)


@pytest.fixture
def pg_url(pg_database: str) -> str:
    _reset_pg(pg_database, {})
    return pg_database


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@contextmanager
def open_context(url: str, clock: MovableClock) -> Iterator[Context]:
    db = Database.open(url)
    try:
        ctx = make_context(db=db, clock=clock)
        # the loopback receivers of the tests are webhook endpoints (development setting)
        ctx.webhook_allow_loopback = True
        yield ctx
    finally:
        db.dispose()


@pytest.fixture
def ctx(db_url: str, clock: MovableClock) -> Iterator[Context]:
    """A context on SQLite, or on each backend for tests marked `both_backends`."""
    with open_context(db_url, clock) as context:
        yield context


@pytest.fixture
def sqlite_ctx(sqlite_url: str, clock: MovableClock) -> Iterator[Context]:
    """A context on SQLite only, even in a module marked `both_backends`."""
    with open_context(sqlite_url, clock) as context:
        yield context


@pytest.fixture
def pg_ctx(pg_url: str, clock: MovableClock) -> Iterator[Context]:
    with open_context(pg_url, clock) as context:
        yield context


# ---- factories ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltWorld:
    """The world built once per session on one backend: its ids and the raw tokens (the
    database keeps only their hashes), and where its rows are to copy them from."""

    world: World
    file: Path | None = None
    rows: PgRows = field(default_factory=dict)


def _build_world(url: str) -> World:
    with open_context(url, MovableClock(START)) as context:
        return make_world(context)


@pytest.fixture(scope="session")
def world_built_sqlite(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> BuiltWorld:
    path = tmp_path_factory.mktemp("world") / "world.db"
    shutil.copyfile(sqlite_template, path)
    return BuiltWorld(world=_build_world(f"sqlite:///{path}"), file=path)


@pytest.fixture(scope="session")
def world_built_postgresql(pg_database: str) -> BuiltWorld:
    _reset_pg(pg_database, {})
    world = _build_world(pg_database)
    return BuiltWorld(world=world, rows=_capture_pg(pg_database))


@pytest.fixture
def world(request: pytest.FixtureRequest, ctx: Context, db_backend: str) -> World:
    """The world of `make_world`, already in `ctx`'s database (copied, not built again)."""
    built: BuiltWorld = request.getfixturevalue(f"world_built_{db_backend}")
    return replace(built.world, ctx=ctx)


@pytest.fixture
def sqlite_world(sqlite_ctx: Context, world_built_sqlite: BuiltWorld) -> World:
    return replace(world_built_sqlite.world, ctx=sqlite_ctx)


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The API in-process on each backend."""
    with TestClient(app_for(ctx)) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_ctx: Context) -> Iterator[TestClient]:
    with TestClient(app_for(sqlite_ctx)) as c:
        yield c


# ---- servers on loopback (tests/support/servers.py) ---------------------------------------


@pytest.fixture
def pg_live_server(pg_ctx: Context) -> Iterator[LiveServer]:
    yield from start_live_server(pg_ctx)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook endpoint on loopback that records each request and answers as told."""
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()
