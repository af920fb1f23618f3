"""Sign-in, sessions and sign-out: the use cases and the /signin, /signout pages
(rules X1, E1; the policy's idle and absolute expiry)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Portal, csrf_of, sign_in
from trialhub.clock import MovableClock
from trialhub.domain.errors import RateLimited, Unauthenticated
from trialhub.domain.policy import FailureLimit
from trialhub.services import accounts
from trialhub.services.accounts.sessions import WRONG_CREDENTIALS
from trialhub.store.repositories import Scope

ADDRESS = "192.0.2.10"


def test_sign_in_opens_a_session_that_finds_the_actor(portal: Portal) -> None:
    signed = accounts.sign_in(portal.ctx, " Sales@Portal.example ", PASSWORD, address=ADDRESS)
    found = accounts.actor_for_session(portal.ctx, signed.token)
    assert found.actor.admin_id == portal.sales.actor.admin_id
    assert found.actor.partner_name == "Portal Partner"
    assert found.csrf_token == signed.csrf_token
    assert signed.token.startswith("ps_")


def test_only_the_hash_of_the_token_is_stored(portal: Portal) -> None:
    signed = accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)
    with portal.ctx.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("select token_hash from portal_sessions").all()
    assert rows
    assert all(signed.token not in row[0] for row in rows)


@pytest.mark.parametrize("email", ["sales@portal.example", "nobody@portal.example"])
def test_unknown_email_and_wrong_password_fail_alike(portal: Portal, email: str) -> None:
    with pytest.raises(Unauthenticated) as caught:
        accounts.sign_in(portal.ctx, email, "not the password", address=ADDRESS)
    assert caught.value.message == WRONG_CREDENTIALS


def test_sign_out_ends_the_session(portal: Portal) -> None:
    signed = accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)
    accounts.sign_out(portal.ctx, signed.token)
    with pytest.raises(Unauthenticated):
        accounts.actor_for_session(portal.ctx, signed.token)
    accounts.sign_out(portal.ctx, signed.token)  # twice: nothing more happens


def test_idle_sessions_end(portal: Portal, clock: MovableClock) -> None:
    idle = portal.ctx.policy.session_idle
    signed = accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)
    clock.advance(idle / 2)
    accounts.actor_for_session(portal.ctx, signed.token)  # a request restarts the idle time
    clock.advance(idle * 3 / 4)
    accounts.actor_for_session(portal.ctx, signed.token)
    clock.advance(idle)
    with pytest.raises(Unauthenticated):
        accounts.actor_for_session(portal.ctx, signed.token)


def test_sessions_end_at_their_absolute_expiry_however_busy(
    portal: Portal, clock: MovableClock
) -> None:
    policy = portal.ctx.policy
    signed = accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)
    absolute = clock.now() + policy.session_absolute
    step = policy.session_idle / 2
    while clock.now() + step < absolute:
        clock.advance(step)
        accounts.actor_for_session(portal.ctx, signed.token)
    clock.advance(step)
    with pytest.raises(Unauthenticated):
        accounts.actor_for_session(portal.ctx, signed.token)


def test_sign_in_and_out_are_in_the_audit_log(portal: Portal) -> None:
    """Rule E1."""
    signed = accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)
    accounts.sign_out(portal.ctx, signed.token)
    with portal.ctx.uow(Scope.system("test")) as uow:
        events = uow.audit.since(after=None, limit=1000)
        mine = [
            (e.action, e.partner_id) for e in events if e.subject_id == portal.sales.actor.admin_id
        ]
    assert mine[-2:] == [
        ("admin.signed_in", portal.partner_id),
        ("admin.signed_out", portal.partner_id),
    ]


def test_failures_are_throttled_per_account(portal: Portal) -> None:
    """Rule X1: past the account's limit even the right password is refused, from any
    address, until the window ends."""
    (limit,) = portal.ctx.policy.sign_in_failures_per_account
    for i in range(limit.failures):
        with pytest.raises(Unauthenticated):
            accounts.sign_in(portal.ctx, "sales@portal.example", "guess", address=f"192.0.2.{i}")
    with pytest.raises(RateLimited) as caught:
        accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address="198.51.100.1")
    assert 0 < caught.value.retry_after <= limit.seconds
    # another account from another address is not affected
    accounts.sign_in(portal.ctx, "reader@portal.example", PASSWORD, address="198.51.100.1")


def test_failures_are_throttled_per_address(portal: Portal) -> None:
    """Rule X1: one address guessing at many accounts."""
    portal.ctx.policy = replace(portal.ctx.policy, failures_per_address=(FailureLimit(3, 60),))
    for i in range(3):
        with pytest.raises(Unauthenticated):
            accounts.sign_in(portal.ctx, f"guess{i}@portal.example", "x", address=ADDRESS)
    with pytest.raises(RateLimited):
        accounts.sign_in(portal.ctx, "sales@portal.example", PASSWORD, address=ADDRESS)


# ---- the pages ---------------------------------------------------------------------------


def test_the_cookie_is_httponly_lax_and_scoped_to_the_site(browser: TestClient) -> None:
    answer = sign_in(browser, "sales@portal.example")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/customers"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("trialhub_session=ps_")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back


def test_the_cookie_is_secure_over_https(portal: Portal) -> None:
    with portal.client(base_url="https://testserver") as c:
        answer = sign_in(c, "sales@portal.example")
    assert "Secure" in answer.headers["set-cookie"]


def test_a_wrong_password_shows_the_error_next_to_the_form(browser: TestClient) -> None:
    answer = sign_in(browser, "sales@portal.example", "nope")
    assert answer.status_code == 401
    assert WRONG_CREDENTIALS in answer.text
    assert 'value="sales@portal.example"' in answer.text  # what was typed stays
    assert "trialhub_session" not in answer.headers.get("set-cookie", "")


def test_too_many_failures_answer_429_with_retry_after(portal: Portal) -> None:
    portal.ctx.policy = replace(
        portal.ctx.policy, sign_in_failures_per_account=(FailureLimit(2, 300),)
    )
    with portal.client() as c:
        for _ in range(2):
            assert sign_in(c, "sales@portal.example", "nope").status_code == 401
        answer = sign_in(c, "sales@portal.example")
    assert answer.status_code == 429
    assert 0 < int(answer.headers["retry-after"]) <= 300
    assert "Too many failed attempts" in answer.text


def test_sign_out_is_a_post_that_ends_the_session(signed_in: TestClient) -> None:
    page = signed_in.get("/customers")
    assert page.status_code == 200
    answer = signed_in.post(
        "/signout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin"
    assert signed_in.get("/signout").status_code == 405  # no sign-out by a link
    assert signed_in.get("/customers", follow_redirects=False).status_code == 303


def test_the_old_cookie_no_longer_works_after_sign_out(portal: Portal) -> None:
    with portal.client() as c:
        cookie = sign_in(c, "sales@portal.example").cookies["trialhub_session"]
        token = csrf_of(c.get("/customers").text)
        c.post("/signout", data={"csrf_token": token})
    with portal.client(cookies={"trialhub_session": cookie}) as other:
        assert other.get("/customers", follow_redirects=False).status_code == 303


def test_signed_in_the_sign_in_page_and_landing_lead_home(signed_in: TestClient) -> None:
    assert signed_in.get("/signin", follow_redirects=False).headers["location"] == "/customers"
    assert signed_in.get("/", follow_redirects=False).headers["location"] == "/customers"


def test_the_landing_page_stays_for_visitors(browser: TestClient) -> None:
    page = browser.get("/")
    assert page.status_code == 200
    assert 'href="/signin"' in page.text
