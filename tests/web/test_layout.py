"""The frame of every portal page (base.html): header with navigation, the signed-in
administrator and partner, sign-out, skip link, main landmark, footer; in sandbox mode the
clock bar, whose buttons only the trials team gets (issue 8, rule P2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_admin, make_partner
from tests.support.apps import app_for
from tests.web.conftest import PASSWORD, csrf_of, sign_in
from trialhub.bootstrap import build_context
from trialhub.services.kernel.context import Context
from trialhub.settings import Settings


def test_the_frame(signed_in: TestClient) -> None:
    page = signed_in.get("/customers").text
    assert '<a class="skip-link" href="#main">' in page
    assert '<main id="main"' in page
    assert "<footer" in page
    for label in ("Customers", "Activity", "Settings"):
        assert f">{label}</a>" in page
    assert 'href="/customers" aria-current="page"' in page
    assert "Portal Partner" in page  # the signed-in admin's partner
    assert 'action="/signout"' in page
    assert "clock-bar" not in page  # no sandbox, no clock
    assert "<style" not in page
    assert " style=" not in page
    assert "<script>" not in page


def test_the_sign_in_page_has_labelled_fields(browser: TestClient) -> None:
    page = browser.get("/signin").text
    assert '<label for="email">' in page
    assert 'id="email"' in page
    assert '<label for="password">' in page
    assert 'id="password"' in page
    assert 'action="/signout"' not in page


@pytest.fixture
def sandbox_ctx(tmp_path: Path) -> Iterator[Context]:
    ctx = build_context(Settings(), database_url=f"sqlite:///{tmp_path}/sbx.db", sandbox=True)
    ctx.local_mailbox = True
    yield ctx
    ctx.db.dispose()


def _signed(ctx: Context, roles: tuple[str, ...], partner: bool = True) -> TestClient:
    pid = make_partner(ctx) if partner else None
    login = make_admin(ctx, partner_id=pid, roles=roles, password=PASSWORD)
    client = TestClient(app_for(ctx))
    assert sign_in(client, login.actor.email).status_code == 303
    return client


def test_in_sandbox_operators_move_the_clock_from_any_page(sandbox_ctx: Context) -> None:
    with _signed(sandbox_ctx, ("operator",), partner=False) as op:
        page = op.get("/customers").text
        assert "clock-bar" in page
        assert 'href="/mailbox"' in page
        for label in ("+1 day", "+7 days", "+30 days"):
            assert label in page
        before = sandbox_ctx.now()
        data = {"csrf_token": csrf_of(page), "advance": "7d", "back": "/customers"}
        moved = op.post("/sandbox/clock", data=data, follow_redirects=False)
        assert moved.status_code == 303
        assert moved.headers["location"] == "/customers"
        assert (sandbox_ctx.now() - before).days == 7
        # sessions run on the wall clock: a week later on the sandbox clock, still signed in
        data = {"csrf_token": csrf_of(page), "to": "2030-01-01", "back": "//evil.example"}
        moved = op.post("/sandbox/clock", data=data, follow_redirects=False)
        assert moved.status_code == 303, moved.text[-600:]
        assert moved.headers["location"] == "/customers"  # only a local path
        assert sandbox_ctx.now().year == 2030


def test_in_sandbox_partners_see_the_time_but_no_buttons(sandbox_ctx: Context) -> None:
    with _signed(sandbox_ctx, ("sales_full_admin",)) as sales:
        page = sales.get("/customers").text
        assert "clock-bar" in page
        assert "+7 days" not in page
        assert "The trials team moves this clock" in page
        data = {"csrf_token": csrf_of(page), "advance": "7d"}
        refused = sales.post("/sandbox/clock", data=data, follow_redirects=False)
        assert refused.status_code == 403  # rule P2, even when the form is posted anyway
