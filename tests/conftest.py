"""Shared fixtures: databases (SQLite and PostgreSQL, migrated), a movable clock, the app,
and keyword-only factories with valid defaults (architecture 11)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from trialhub.api.app import create_app
from trialhub.bootstrap import make_context
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.store.db import Database, upgrade
from trialhub.store.tables import metadata

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PG_URL = os.environ.get(
    "TRIALHUB_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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


def _truncate_pg(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "trialhub.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate_pg(url)
    return url


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "trialhub.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def pg_url(pg_database: str) -> str:
    _truncate_pg(pg_database)
    return pg_database


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


def _context(url: str, clock: MovableClock) -> Iterator[Context]:
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
    """A context on each backend (SQLite and PostgreSQL)."""
    yield from _context(db_url, clock)


@pytest.fixture
def sqlite_ctx(sqlite_url: str, clock: MovableClock) -> Iterator[Context]:
    """A context on SQLite only, for tests whose subject is not the database."""
    yield from _context(sqlite_url, clock)


@pytest.fixture
def pg_ctx(pg_url: str, clock: MovableClock) -> Iterator[Context]:
    yield from _context(pg_url, clock)


# ---- factories ---------------------------------------------------------------------------


@dataclass
class Login:
    """An administrator the tests act as: the service-layer actor and its API token."""

    actor: Actor
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_partner(
    ctx: Context, *, name: str = "Partner A", tier: int = 1, certified: bool = True
) -> str:
    cmd = CreatePartner(
        name=name,
        tier=tier,  # type: ignore[arg-type]
        certified=certified,
        distributor_name="Distributor" if tier == 2 else None,
    )
    return accounts.create_partner(ctx, SYSTEM_OPERATOR, cmd).id


def make_admin(
    ctx: Context,
    *,
    partner_id: str | None,
    roles: tuple[str, ...] = ("sales_full_admin",),
    email: str | None = None,
    password: str | None = None,
) -> Login:
    email = email or f"{roles[0]}-{uuid.uuid4().hex[:6]}@partner.example"
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        partner_id,
        CreateAdmin(email=email, name="Test Admin", roles=list(roles), password=password),
    )
    token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin.id, IssueToken(label="test"))
    assert token.token is not None
    return Login(actor=accounts.actor_for_email(ctx, email), token=token.token)


def new_customer_body(**overrides: Any) -> dict[str, Any]:
    """A valid start-trial request for a new customer; override any top-level key."""
    suffix = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "customer": {
            "company_name": f"Acme {suffix}",
            "admin_email": f"admin-{suffix}@acme.example",
            "business_vertical": "retail",
            "country": "FR",
            "supported_location_ack": True,
        },
        "services": [{"code": "meetings", "edition": "enterprise"}, {"code": "messaging"}],
        "user_licenses": 50,
        "duration_days": 90,
        "meetings": {"site_url": f"acme-{suffix}.webex.com", "time_zone": "Europe/Paris"},
    }
    body.update(overrides)
    return body


@dataclass
class World:
    """A certified tier-1 partner with one administrator per role, and an operator."""

    ctx: Context
    partner_id: str
    sales_full: Login
    sales: Login
    partner_full: Login
    partner_admin: Login
    read_only: Login
    operator: Login

    def login(self, role: str) -> Login:
        return {
            "sales_full_admin": self.sales_full,
            "sales_admin": self.sales,
            "partner_full_admin": self.partner_full,
            "partner_admin": self.partner_admin,
            "read_only": self.read_only,
            "operator": self.operator,
        }[role]


def make_world(ctx: Context, *, name: str = "Partner A", certified: bool = True) -> World:
    pid = make_partner(ctx, name=name, certified=certified)
    return World(
        ctx=ctx,
        partner_id=pid,
        sales_full=make_admin(ctx, partner_id=pid, roles=("sales_full_admin",)),
        sales=make_admin(ctx, partner_id=pid, roles=("sales_admin",)),
        partner_full=make_admin(ctx, partner_id=pid, roles=("partner_full_admin",)),
        partner_admin=make_admin(ctx, partner_id=pid, roles=("partner_admin",)),
        read_only=make_admin(ctx, partner_id=pid, roles=("read_only",)),
        operator=make_admin(ctx, partner_id=None, roles=("operator",)),
    )


@pytest.fixture
def world(ctx: Context) -> World:
    return make_world(ctx)


@pytest.fixture
def sqlite_world(sqlite_ctx: Context) -> World:
    return make_world(sqlite_ctx)


@pytest.fixture
def client(ctx: Context) -> Iterator[TestClient]:
    """The API in-process on each backend."""
    with TestClient(create_app(ctx)) as c:
        yield c


@pytest.fixture
def sqlite_client(sqlite_ctx: Context) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_ctx)) as c:
        yield c


# ---- a live server on loopback -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ctx: Context


def start_live_server(
    ctx: Context, *, forwarded_allow_ips: str | None = None
) -> Iterator[LiveServer]:
    """uvicorn in a thread on a free loopback port, configured as `trialhub serve` does
    (the app decides which proxy to believe); stopped when the test ends."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        create_app(ctx, forwarded_allow_ips=forwarded_allow_ips),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.05)
    else:
        raise RuntimeError("the live server did not start")
    try:
        yield LiveServer(url=url, ctx=ctx)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def pg_live_server(pg_ctx: Context) -> Iterator[LiveServer]:
    yield from start_live_server(pg_ctx)
