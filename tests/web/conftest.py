"""The portal in-process: administrators with passwords, and a browser-like client that
signs in through the form (CSRF token included)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import START, Login, make_admin, make_partner, open_context
from tests.support.apps import app_for
from tests.support.statements import statements
from trialhub.clock import MovableClock
from trialhub.services.kernel.context import Context

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token the page's forms carry."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def app_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every route of the app, those of included routers too."""

    def walk(routes: list[Any]) -> Iterator[APIRoute]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield route
            included = getattr(route, "original_router", None)  # an included router
            if included is not None:
                yield from walk(included.routes)

    return walk(app.routes)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    token = csrf_of(client.get("/signin").text)
    data = {"email": email, "password": password, "csrf_token": token}
    return client.post("/signin", data=data, follow_redirects=False)


@dataclass
class Portal:
    """A certified partner with a sales full administrator and a read-only one, both with
    the same password, and the app."""

    ctx: Context
    partner_id: str
    sales: Login
    read_only: Login

    def client(self, **kw: object) -> TestClient:
        return TestClient(app_for(self.ctx), **kw)  # type: ignore[arg-type]


def _build_portal(ctx: Context) -> Portal:
    pid = make_partner(ctx, name="Portal Partner")
    sales = make_admin(ctx, partner_id=pid, email="sales@portal.example", password=PASSWORD)
    read_only = make_admin(
        ctx,
        partner_id=pid,
        roles=("read_only",),
        email="reader@portal.example",
        password=PASSWORD,
    )
    return Portal(ctx, pid, sales, read_only)


@pytest.fixture(scope="session")
def portal_built(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltPortal:
    """The portal's partner and administrators, built once per session through the use
    cases; each test gets a copy of its database (tests/conftest.py `sqlite_url_for`)."""
    path = tmp_path_factory.mktemp("portal") / "portal.db"
    shutil.copyfile(sqlite_template, path)
    with open_context(f"sqlite:///{path}", MovableClock(START)) as ctx:
        return BuiltPortal(portal=_build_portal(ctx), file=path)


@pytest.fixture
def portal(request: pytest.FixtureRequest, sqlite_ctx: Context, clock: MovableClock) -> Portal:
    sqlite_ctx.wall_clock = clock  # sessions run on the wall clock: the tests move it
    if "sqlite_world" in request.fixturenames:  # the world's database: build them in it
        return _build_portal(sqlite_ctx)
    built: BuiltPortal = request.getfixturevalue("portal_built")
    return replace(built.portal, ctx=sqlite_ctx)  # already in its database (a copy)


@dataclass(frozen=True)
class BuiltPortal:
    portal: Portal
    file: Path


@pytest.fixture
def browser(portal: Portal) -> Iterator[TestClient]:
    """A client not signed in yet."""
    with portal.client() as c:
        yield c


@pytest.fixture
def signed_in(portal: Portal) -> Iterator[TestClient]:
    """A client signed in as the sales full administrator."""
    with portal.client() as c:
        assert sign_in(c, portal.sales.actor.email).status_code == 303
        yield c


def signed_as(portal: Portal, login: Login) -> TestClient:
    """A new client signed in as this administrator (its password is PASSWORD)."""
    client = portal.client()
    assert sign_in(client, login.actor.email).status_code == 303
    return client


def statements_of(portal: Portal, client: TestClient, path: str) -> int:
    """How many SQL statements answering GET `path` costs (issue 10: one query per list)."""
    with statements(portal.ctx.db.engine) as sent:
        assert client.get(path).status_code == 200
    return len(sent)
