"""Headless Chromium (Playwright) against a live server on loopback."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, LiveServer, new_customer_body, start_live_server
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.demo import DEMO_PASSWORD, SALES_EMAIL, ensure_demo
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.web.portal import SESSION_COOKIE

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not CHROMIUM.exists():
    if IN_CI:
        raise RuntimeError("Chromium is required in CI: apt-get install -y chromium")
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def need(module: str) -> Any:
    """The module, or a skip outside CI; in CI nothing is skipped (issue 9): a missing
    Playwright or axe fails the run."""
    if IN_CI:
        return importlib.import_module(module)
    return pytest.importorskip(module)


sync_api = need("playwright.sync_api")
axe_sync = need("axe_playwright_python.sync_playwright")

PHONE = 360  # the narrowest width the portal is checked at (issue 10: "readable on a phone")


def serious_violations(page: Any) -> list[str]:
    """axe's serious and critical violations on the page as it is now."""
    results = axe_sync.Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def overflowing(page: Any) -> list[str]:
    """What sticks out sideways of the viewport (a phone would have to scroll the page
    sideways to read it); a wide table scrolls inside its own box and is not counted."""
    found: list[str] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          if (document.documentElement.scrollWidth <= width) return [];
          return [...document.querySelectorAll("body *")]
            .filter(e => e.getBoundingClientRect().right > width + 1)
            .map(e => e.tagName.toLowerCase() + (e.className ? "." + e.className : ""))
            .slice(0, 5);
        }"""
    )
    return found


def readable(page: Any, width: int) -> list[str]:
    """At desktop width, axe's serious violations; at phone width, what overflows sideways.
    axe's rules hardly depend on the width, and a run costs Chromium about half a second:
    a test at phone width runs axe once more itself (`serious_violations`)."""
    return overflowing(page) if width <= PHONE else serious_violations(page)


def console_errors(page: Any) -> list[str]:
    """Every console error and uncaught exception of the page from now on (CSP refusals
    show up here)."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def signed_in(page: Any, live: LiveServer, email: str = SALES_EMAIL) -> None:
    """The page's browser holds a portal session of `email`, as after signing in, without
    the sign-in pages (a test whose subject is sign-in goes through `sign_in`)."""
    signed = accounts.sign_in(live.ctx, email, DEMO_PASSWORD, address="127.0.0.1")
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": signed.token, "url": live.url}])


def sign_in(page: Any, base: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Email").fill(SALES_EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def live(sqlite_ctx: Context) -> Iterator[LiveServer]:
    yield from start_live_server(sqlite_ctx)


@pytest.fixture
def portal_live(sqlite_ctx: Context, clock: MovableClock) -> Iterator[LiveServer]:
    """A live server with the demo world and one customer of the demo partner."""
    sqlite_ctx.wall_clock = clock
    ensure_demo(sqlite_ctx)
    sales = accounts.actor_for_email(sqlite_ctx, SALES_EMAIL)
    body = new_customer_body()
    body["customer"]["company_name"] = "Acme Browsers"
    trials.start_trial(sqlite_ctx, sales, StartTrial.model_validate(body))
    yield from start_live_server(sqlite_ctx)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium per test process (launching it is the slow part); each test gets a
    fresh context of its own, so no cookie or storage crosses tests."""
    os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[object]:
    context = browser.new_context()
    try:
        page = context.new_page()
        # the active tab, as in a browser of its own: autofocus and the keyboard go to it
        page.bring_to_front()
        yield page
    finally:
        for other in browser.contexts:  # a test's second context (a customer's) too
            other.close()
