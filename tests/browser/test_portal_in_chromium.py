"""The partner portal in Chromium: sign in with the demo password, the customer list, sign
out; a wrong password; throttling (rule X1); keyboard-only sign-in; axe finds no serious or
critical violation on the sign-in, password-reset and customers pages."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.browser.conftest import PHONE, console_errors, readable, serious_violations, sign_in
from tests.conftest import LiveServer
from trialhub.domain.policy import FailureLimit
from trialhub.services.demo import DEMO_PASSWORD, SALES_EMAIL


def test_sign_in_see_the_customers_sign_out(portal_live: LiveServer, page: Any) -> None:
    errors = console_errors(page)
    page.goto(f"{portal_live.url}/customers")
    assert page.url.startswith(f"{portal_live.url}/signin?next=")
    page.get_by_label("Email").fill(SALES_EMAIL)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{portal_live.url}/customers")
    assert page.get_by_role("heading", name="Customers").is_visible()
    assert page.get_by_role("link", name="Acme Browsers").is_visible()
    assert page.get_by_text("Sam Sales · Demo Partner").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{portal_live.url}/signin")
    page.goto(f"{portal_live.url}/customers")
    assert "/signin" in page.url  # the session is gone
    assert errors == []  # no CSP violation, no script error (htmx loaded from here)


def test_a_wrong_password_shows_the_error_next_to_the_form(
    portal_live: LiveServer, page: Any
) -> None:
    sign_in(page, portal_live.url, "not the password")
    alert = page.get_by_role("alert")
    assert alert.text_content() == "Wrong email or password."
    assert page.get_by_label("Email").input_value() == SALES_EMAIL
    assert page.get_by_label("Password").get_attribute("aria-describedby") == "signin-error"


def test_sign_in_failures_are_throttled(portal_live: LiveServer, page: Any) -> None:
    """Rule X1."""
    ctx = portal_live.ctx
    ctx.policy = replace(ctx.policy, sign_in_failures_per_account=(FailureLimit(3, 300),))
    for _ in range(3):
        sign_in(page, portal_live.url, "guess")
        assert page.get_by_role("alert").text_content() == "Wrong email or password."
    sign_in(page, portal_live.url)  # the right password, too late
    assert "Too many failed attempts" in (page.get_by_role("alert").text_content() or "")
    assert "/signin" in page.url


def test_keyboard_only_sign_in(portal_live: LiveServer, page: Any) -> None:
    page.goto(f"{portal_live.url}/signin")
    # the email field has the focus; typing, Tab and Enter are all it takes
    page.wait_for_function("document.activeElement && document.activeElement.name === 'email'")
    page.keyboard.type(SALES_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{portal_live.url}/customers")
    # the skip link comes first and takes the keyboard to the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize("width", [1280, PHONE])
def test_axe_finds_no_serious_violation(portal_live: LiveServer, page: Any, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    for path in ("/signin", "/password/forgot", "/password/reset/pr_link"):
        page.goto(f"{portal_live.url}{path}")
        assert readable(page, width) == [], path
    sign_in(page, portal_live.url, "wrong")  # the page with its error
    assert readable(page, width) == []
    sign_in(page, portal_live.url)
    page.wait_for_url(f"{portal_live.url}/customers")
    assert readable(page, width) == []
    if width == PHONE:  # axe once at phone width too
        assert serious_violations(page) == []
