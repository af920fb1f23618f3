"""Every page POST carries the session's CSRF token and comes from this site, or it is
refused with 403 and changes nothing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_world
from tests.support.factories import links, make_org, request_consent
from tests.web.conftest import Portal, app_routes, csrf_of, sign_in
from trialhub.api.app import create_app
from trialhub.web.errors import is_machine_path


def page_post_paths(portal: Portal, token: str = "x") -> list[str]:
    """Every POST route of the app outside the API, its path parameters filled in."""
    paths = [
        re.sub(r"\{[^}]+\}", token, route.path)
        for route in app_routes(create_app(portal.ctx))
        if "POST" in route.methods and not is_machine_path(route.path)
    ]
    return sorted(paths)


def _audit_rows(portal: Portal) -> int:
    with portal.ctx.db.engine.connect() as conn:
        return int(conn.exec_driver_sql("select count(*) from audit_events").scalar_one())


def test_the_walk_finds_the_portal_forms(portal: Portal) -> None:
    paths = page_post_paths(portal)
    assert {"/signin", "/signout", "/sandbox/clock", "/consent/x"} <= set(paths)
    assert not any(p.startswith("/v1") for p in paths)


@pytest.fixture
def consent_link(portal: Portal, sqlite_client: TestClient) -> str:
    """A live consent link, so that its page would act if the token were right."""
    world = make_world(portal.ctx, name="Partner B")
    org = make_org(portal.ctx, full=("boss@globex.example",))
    request_consent(sqlite_client, world, org, "boss@globex.example")
    return links(portal.ctx)["boss@globex.example"]


@pytest.mark.parametrize("sent", [None, "", "wrong-token", "é"])
def test_every_page_post_refuses_a_missing_or_wrong_token(
    portal: Portal, signed_in: TestClient, consent_link: str, sent: str | None
) -> None:
    before = _audit_rows(portal)
    # every field a form of the portal might need, so only the token is missing
    data = {"email": "sales@portal.example", "password": "x", "decision": "accept"}
    data |= {"advance": "1d"}
    if sent is not None:
        data["csrf_token"] = sent
        data["csrf"] = sent
    for path in page_post_paths(portal, consent_link):
        answer = signed_in.post(path, data=data, follow_redirects=False)
        assert answer.status_code == 403, path
    assert _audit_rows(portal) == before
    assert signed_in.get("/customers", follow_redirects=False).status_code == 200
    assert signed_in.get(f"/consent/{consent_link}").status_code == 200  # still pending


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_a_post_from_another_site_is_refused_even_with_the_token(
    signed_in: TestClient, headers: dict[str, str]
) -> None:
    token = csrf_of(signed_in.get("/customers").text)
    answer = signed_in.post(
        "/signout", data={"csrf_token": token}, headers=headers, follow_redirects=False
    )
    assert answer.status_code == 403
    assert signed_in.get("/customers", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("origin", ["http://testserver", "https://testserver", "null"])
def test_a_post_from_this_site_passes(signed_in: TestClient, origin: str) -> None:
    """ "null" is what a browser sends under Referrer-Policy: no-referrer."""
    token = csrf_of(signed_in.get("/customers").text)
    headers = {"Origin": origin, "Sec-Fetch-Site": "same-origin"}
    answer = signed_in.post(
        "/signout", data={"csrf_token": token}, headers=headers, follow_redirects=False
    )
    assert answer.status_code == 303


def test_the_sign_in_form_needs_the_token_of_its_own_browser(portal: Portal) -> None:
    """Before sign-in the token is bound to a cookie of this browser: a token from another
    browser (an attacker's own) does not sign anyone in (login CSRF)."""
    with portal.client() as attacker:
        stolen = csrf_of(attacker.get("/signin").text)
    with portal.client() as victim:
        victim.get("/signin")
        data = {"email": "sales@portal.example", "password": "x", "csrf_token": stolen}
        assert victim.post("/signin", data=data).status_code == 403
        assert sign_in(victim, "sales@portal.example").status_code == 303


def test_each_session_has_its_own_token(portal: Portal) -> None:
    with portal.client() as one, portal.client() as two:
        sign_in(one, "sales@portal.example")
        sign_in(two, "sales@portal.example")
        token_one = csrf_of(one.get("/customers").text)
        answer = two.post("/signout", data={"csrf_token": token_one}, follow_redirects=False)
        assert answer.status_code == 403
