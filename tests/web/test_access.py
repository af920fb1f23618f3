"""No portal page shows data without sign-in: each redirects to /signin?next=<itself>, and
after sign-in the browser goes there, but only ever to a local path (no open redirect)."""

from __future__ import annotations

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Portal, app_routes, csrf_of
from trialhub.api.app import create_app
from trialhub.web.portal import require_session, safe_next


def _needs_session(dependant: Dependant) -> bool:
    return any(d.call is require_session or _needs_session(d) for d in dependant.dependencies)


def portal_pages(portal: Portal) -> list[str]:
    """Every GET page of the app that needs a session."""
    return sorted(
        route.path.replace("{", "").replace("}", "")
        for route in app_routes(create_app(portal.ctx))
        if "GET" in route.methods and _needs_session(route.dependant)
    )


def test_every_portal_page_redirects_to_sign_in(portal: Portal, browser: TestClient) -> None:
    pages = portal_pages(portal)
    assert "/customers" in pages
    for path in pages:
        answer = browser.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/signin?next=/"), path


def test_after_sign_in_the_browser_goes_where_it_was_going(browser: TestClient) -> None:
    answer = browser.get("/customers?status=active&q=acme", follow_redirects=False)
    target = answer.headers["location"]
    page = browser.get(target).text
    assert 'name="next" value="/customers?status=active&amp;q=acme"' in page
    data = {
        "email": "sales@portal.example",
        "password": PASSWORD,
        "csrf_token": csrf_of(page),
        "next": "/customers?status=active&q=acme",
    }
    done = browser.post("/signin", data=data, follow_redirects=False)
    assert done.headers["location"] == "/customers?status=active&q=acme"


OPEN_REDIRECTS = [
    "//evil.example/",
    "https://evil.example/",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "/customers\r\nSet-Cookie: x=1",
    "",
    "customers",
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_next_goes_only_to_a_local_path(browser: TestClient, target: str) -> None:
    assert safe_next(target) == "/customers"
    page = browser.get("/signin", params={"next": target}).text
    data = {
        "email": "sales@portal.example",
        "password": PASSWORD,
        "csrf_token": csrf_of(page),
        "next": target,
    }
    done = browser.post("/signin", data=data, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/customers"


def test_an_expired_or_forged_cookie_is_no_session(portal: Portal) -> None:
    with portal.client(cookies={"trialhub_session": "ps_forged"}) as c:
        assert c.get("/customers", follow_redirects=False).status_code == 303
        assert c.get("/", follow_redirects=False).status_code == 200  # the landing page


def test_a_form_posted_after_the_session_ended_leads_home(portal: Portal) -> None:
    with portal.client() as c:
        page = c.get("/signin").text
        data = {"csrf_token": csrf_of(page), "advance": "1d"}
        answer = c.post("/sandbox/clock", data=data, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/customers"
