"""Headless Chromium (Playwright) against a live server on loopback."""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, LiveServer, start_live_server
from trialhub.services.kernel.context import Context

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


@pytest.fixture
def live(sqlite_ctx: Context) -> Iterator[LiveServer]:
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
