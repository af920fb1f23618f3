"""Password reset by an emailed single-use link through the outbox: hashed, expiring,
replaced by a newer one, throttled (rule X1), and it signs the administrator out everywhere."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import PASSWORD, Portal, csrf_of, sign_in
from trialhub.api.security import redact_path
from trialhub.clock import MovableClock
from trialhub.domain.policy import FailureLimit
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.services.messaging import delivery, mailbox

NEW_PASSWORD = "a brand new passphrase"
_LINK = re.compile(r"http://testserver(/password/reset/pr_[\w-]+)")


@pytest.fixture
def mailed(portal: Portal) -> Portal:
    """Emails go to the local mailbox, links pointing at the test client's host."""
    ctx = portal.ctx
    ctx.public_url = "http://testserver"
    ctx.local_mailbox = True
    ctx.renderer = JinjaRenderer(ctx.public_url, "https://buy.example/{org_id}")
    ctx.mailer = MailboxMailer(ctx.db, ctx.clock)
    return portal


def ask(client: TestClient, email: str) -> str:
    page = client.get("/password/forgot").text
    answer = client.post("/password/forgot", data={"email": email, "csrf_token": csrf_of(page)})
    return answer.text


def mailed_links(portal: Portal, email: str) -> list[str]:
    delivery.deliver(portal.ctx)
    mails = mailbox.list_mailbox(portal.ctx, recipient=email)
    return [m for mail in mails for m in _LINK.findall(mailbox.get_mail(portal.ctx, mail.id).text)]


def set_password(client: TestClient, path: str, password: str, confirm: str | None = None) -> int:
    page = client.get(path).text
    data = {"password": password, "confirm": confirm or password, "csrf_token": csrf_of(page)}
    return client.post(path, data=data, follow_redirects=False).status_code


def test_a_link_sets_a_new_password_once(mailed: Portal, browser: TestClient) -> None:
    email = mailed.sales.actor.email
    with mailed.client() as elsewhere:  # a session on another device
        assert sign_in(elsewhere, email).status_code == 303
        assert "is on its way" in ask(browser, email)
        [link] = mailed_links(mailed, email)
        assert set_password(browser, link, NEW_PASSWORD) == 303
        # signed out everywhere
        assert elsewhere.get("/customers", follow_redirects=False).status_code == 303
    assert "Your new password is set" in browser.get("/signin?reset=done").text
    assert sign_in(browser, email, PASSWORD).status_code == 401
    assert sign_in(browser, email, NEW_PASSWORD).status_code == 303
    with mailed.client() as again:
        assert set_password(again, link, "yet another password") == 410  # single use


def test_the_answer_does_not_tell_who_has_an_account(mailed: Portal, browser: TestClient) -> None:
    known = ask(browser, mailed.sales.actor.email)
    unknown = ask(browser, "nobody@portal.example")
    assert known.replace(mailed.sales.actor.email, "X") == unknown.replace(
        "nobody@portal.example", "X"
    )
    assert mailed_links(mailed, "nobody@portal.example") == []


def test_links_expire_and_a_newer_one_replaces_them(
    mailed: Portal, browser: TestClient, clock: MovableClock
) -> None:
    email = mailed.read_only.actor.email
    ask(browser, email)
    [first] = mailed_links(mailed, email)
    ask(browser, email)
    links = mailed_links(mailed, email)
    second = next(link for link in links if link != first)
    assert set_password(browser, first, NEW_PASSWORD) == 410
    clock.advance(mailed.ctx.policy.password_reset_valid)
    assert set_password(browser, second, NEW_PASSWORD) == 410


def test_a_bad_password_keeps_the_link(mailed: Portal, browser: TestClient) -> None:
    email = mailed.sales.actor.email
    ask(browser, email)
    [link] = mailed_links(mailed, email)
    assert set_password(browser, link, "short") == 422
    assert set_password(browser, link, NEW_PASSWORD, "something else") == 422
    assert set_password(browser, link, NEW_PASSWORD) == 303


def test_an_email_whose_link_died_before_it_went_is_not_sent(
    mailed: Portal, browser: TestClient
) -> None:
    email = mailed.sales.actor.email
    ask(browser, email)
    ask(browser, email)  # the first link is replaced before anything is delivered
    assert len(mailed_links(mailed, email)) == 1


def test_requests_are_throttled_per_account(mailed: Portal, browser: TestClient) -> None:
    """Rule X1: every request sends an email, so every request counts."""
    mailed.ctx.policy = replace(
        mailed.ctx.policy, sign_in_failures_per_account=(FailureLimit(2, 600),)
    )
    email = mailed.sales.actor.email
    for _ in range(2):
        assert "is on its way" in ask(browser, email)
    page = browser.get("/password/forgot").text
    answer = browser.post("/password/forgot", data={"email": email, "csrf_token": csrf_of(page)})
    assert answer.status_code == 429
    assert 0 < int(answer.headers["retry-after"]) <= 600


def test_guessed_links_are_throttled_per_address(mailed: Portal, browser: TestClient) -> None:
    mailed.ctx.policy = replace(mailed.ctx.policy, failures_per_address=(FailureLimit(3, 60),))
    for i in range(3):
        assert set_password(browser, f"/password/reset/pr_guess{i}", NEW_PASSWORD) == 410
    assert set_password(browser, "/password/reset/pr_guess9", NEW_PASSWORD) == 429


def test_the_link_is_kept_out_of_logs_and_caches(browser: TestClient) -> None:
    assert redact_path("/password/reset/pr_secret") == "/password/reset/***"
    page = browser.get("/password/reset/pr_secret")
    assert page.headers["cache-control"] == "no-store"
