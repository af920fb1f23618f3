"""Security headers on every page and API response, errors included (issue 8, item 4)."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import World, start_live_server
from tests.support.factories import links, make_org, request_consent
from trialhub.api.app import create_app
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.services.messaging import delivery

DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "object-src": "'none'",
}


def _boom() -> None:
    raise RuntimeError("a bug")


@pytest.fixture
def app(sqlite_world: World) -> FastAPI:
    """A demo server (its mailbox served and filled) with two bugs."""
    ctx = sqlite_world.ctx
    ctx.local_mailbox = True
    ctx.renderer = JinjaRenderer("http://testserver", "https://buy.example/{org_id}")
    ctx.mailer = MailboxMailer(ctx.db, ctx.clock)
    app = create_app(ctx)  # its own: it gains routes the shared app must not have
    app.add_api_route("/v1/boom", _boom)  # an API bug: a 500
    app.add_api_route("/boom", _boom, include_in_schema=False)  # a page bug
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _consent_token(client: TestClient, world: World) -> str:
    org = make_org(world.ctx, full=("boss@globex.example",))
    request_consent(client, world, org, "boss@globex.example")
    delivery.deliver(world.ctx)  # into the local mailbox: /mailbox/1
    return links(world.ctx)["boss@globex.example"]


def assert_secure(response: httpx.Response) -> None:
    csp = dict(
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    assert csp == DIRECTIVES, response.url
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "strict-transport-security" not in response.headers  # plain http here


def test_every_kind_of_response_has_the_headers(client: TestClient, sqlite_world: World) -> None:
    auth = sqlite_world.sales_full.headers
    token = _consent_token(client, sqlite_world)
    cases: list[tuple[str, str, dict[str, str], int]] = [
        ("GET", "/", {}, 200),  # a page
        ("GET", "/docs", {}, 200),
        ("GET", "/static/trialhub.css", {}, 200),
        ("GET", "/mailbox", {}, 200),
        ("GET", f"/consent/{token}", {}, 200),  # a token in the URL
        ("GET", "/consent/not-a-token", {}, 404),
        ("GET", "/nope", {}, 404),  # page errors
        ("GET", "/mailbox/abc", {}, 422),
        ("GET", "/boom", {}, 500),
        ("GET", "/v1/me", auth, 200),  # the API
        ("GET", f"/v1/consent/{token}", {}, 200),
        ("GET", "/v1/me", {}, 401),  # API errors
        ("GET", "/v1/nope", auth, 404),
        ("GET", "/v1/customers?limit=0", auth, 422),
        ("DELETE", "/v1/me", auth, 405),
        ("GET", "/v1/boom", auth, 500),
        ("GET", "/openapi.json", {}, 200),
        ("GET", "/healthz", {}, 200),
    ]
    for method, path, headers, status in cases:
        got = client.request(method, path, headers=headers)
        assert got.status_code == status, (path, got.text)
        assert_secure(got)


def test_no_store_where_a_secret_can_be(client: TestClient, sqlite_world: World) -> None:
    """Consent pages carry the token in their URL; /v1 answers may carry a new API token or
    webhook secret; the mailbox holds other people's emails."""
    auth = sqlite_world.sales_full.headers
    token = _consent_token(client, sqlite_world)
    admin_id = sqlite_world.sales_full.actor.admin_id
    new_token = client.post(f"/v1/admins/{admin_id}/tokens", json={"label": "x"}, headers=auth)
    assert new_token.status_code == 201, new_token.text
    for got in (
        client.get(f"/consent/{token}"),
        client.post(f"/consent/{token}", data={"decision": "accept", "csrf": "forged"}),
        client.get(f"/v1/consent/{token}"),
        new_token,
        client.get("/v1/me", headers=auth),
        client.get("/v1/boom", headers=auth),
        client.get("/mailbox"),
    ):
        assert got.headers["cache-control"] == "no-store", got.url
    assert "cache-control" not in client.get("/").headers


def test_hsts_only_over_https(app: FastAPI) -> None:
    with TestClient(app, base_url="https://trialhub.example") as secure:
        got = secure.get("/")
        assert got.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
        assert "strict-transport-security" in secure.get("/v1/nope").headers
    with TestClient(app) as plain:
        assert "strict-transport-security" not in plain.get("/").headers


def test_hsts_behind_a_trusted_proxy(sqlite_world: World) -> None:
    """A TLS proxy the server trusts (TRIALHUB_FORWARDED_ALLOW_IPS) makes the request https,
    and only then is HSTS sent; the same header from anyone else changes nothing."""
    for live in start_live_server(sqlite_world.ctx, forwarded_allow_ips="127.0.0.1"):
        proxied = httpx.get(f"{live.url}/", headers={"X-Forwarded-Proto": "https"})
        assert "max-age=31536000" in proxied.headers["strict-transport-security"]
        direct = httpx.get(f"{live.url}/")
        assert "strict-transport-security" not in direct.headers
        assert_secure(direct)
    for live in start_live_server(sqlite_world.ctx):
        forged = httpx.get(f"{live.url}/", headers={"X-Forwarded-Proto": "https"})
        assert "strict-transport-security" not in forged.headers


class _Inline(HTMLParser):
    """Finds what the CSP refuses: inline scripts, style elements and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")
        if tag == "style":
            self.found.append("<style>")
        if "style" in names:
            self.found.append(f"style= on <{tag}>")
        if any(name.startswith("on") for name in names):
            self.found.append(f"event handler on <{tag}>")


def test_pages_have_nothing_inline(client: TestClient, sqlite_world: World) -> None:
    token = _consent_token(client, sqlite_world)
    for path in ("/", "/docs", "/mailbox", "/mailbox/1", f"/consent/{token}", "/nope", "/boom"):
        parser = _Inline()
        parser.feed(client.get(path).text)
        assert parser.found == [], path


def test_the_email_frame_has_a_csp_of_its_own(client: TestClient, sqlite_world: World) -> None:
    """An email's HTML is made of inline styles: it is shown in a sandboxed frame whose
    response allows those styles and nothing else, and only this origin may frame it."""
    _consent_token(client, sqlite_world)
    got = client.get("/mailbox/1/html")
    assert got.status_code == 200
    csp: dict[str, Any] = dict(
        (d.strip() + " ").split(" ", 1) for d in got.headers["content-security-policy"].split(";")
    )
    assert csp["default-src"].strip() == "'none'"
    assert csp["style-src"].strip() == "'unsafe-inline'"
    assert csp["frame-ancestors"].strip() == "'self'"
    assert "sandbox" in csp
    assert "script-src" not in csp  # default-src 'none': no script at all
    assert got.headers["x-frame-options"] == "SAMEORIGIN"
    assert got.headers["x-content-type-options"] == "nosniff"
