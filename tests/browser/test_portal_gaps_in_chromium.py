"""Issue 10's last gaps in Chromium: Activity filtered by a customer found by name (from
the customer page's "Activity" link, the search field, the active filter and its clear
link), and assigning then removing an assignment on the customer page (rule P2); axe once
on each of the two pages in these states."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import console_errors, serious_violations, signed_in
from tests.conftest import LiveServer, new_customer_body, start_live_server
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin
from trialhub.services.demo import SALES_EMAIL, SYSTEM_OPERATOR, ensure_demo
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial


@pytest.fixture
def gaps_live(sqlite_ctx: Context, clock: MovableClock) -> Iterator[LiveServer]:
    """The demo world, three customers of the demo partner (two sharing a word) and a
    second administrator to assign customers to."""
    sqlite_ctx.wall_clock = clock
    ensure_demo(sqlite_ctx)
    sales = accounts.actor_for_email(sqlite_ctx, SALES_EMAIL)
    assert sales.partner_id is not None
    for name in ("Acme Browsers", "Northwind One", "Northwind Two"):
        body = new_customer_body()
        body["customer"]["company_name"] = name
        trials.start_trial(sqlite_ctx, sales, StartTrial.model_validate(body))
    admin = CreateAdmin(
        email="pat@demo-partner.example", name="Pat Partner", roles=["partner_admin"]
    )
    accounts.create_admin(sqlite_ctx, SYSTEM_OPERATOR, sales.partner_id, admin)
    yield from start_live_server(sqlite_ctx)


def _open_customer(page: Any, live: LiveServer, name: str) -> None:
    signed_in(page, live)
    base = live.url
    page.goto(f"{base}/customers")
    page.get_by_role("link", name=name).click()
    page.wait_for_url(f"{base}/customers/*")


def test_activity_of_one_customer_found_by_name(gaps_live: LiveServer, page: Any) -> None:
    errors = console_errors(page)
    base = gaps_live.url
    _open_customer(page, gaps_live, "Acme Browsers")
    page.get_by_role("link", name="Activity", exact=True).last.click()  # the page's, not the nav's
    page.wait_for_url(f"{base}/activity?customer=*")
    filters = page.get_by_role("list", name="Active filters")
    assert "Customer: Acme Browsers" in filters.inner_text()
    assert page.locator("ol.feed li").count() > 0
    # clear it: every customer's activity again
    page.get_by_role("link", name="Clear the customer filter (Acme Browsers)").click()
    page.wait_for_url(f"{base}/activity")
    everyone = page.locator("ol.feed li").count()
    # a name typed in the labelled field: one match filters at once
    page.get_by_label("Customer", exact=True).fill("acme bro")
    page.get_by_label("Kind").select_option(label="Trials")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(f"{base}/activity?customer=*&kind=trial")
    assert "Customer: Acme Browsers" in page.get_by_role("list", name="Active filters").inner_text()
    assert 0 < page.locator("ol.feed li").count() < everyone
    # two matches: the page asks which one
    page.get_by_label("Customer", exact=True).fill("Northwind")
    page.get_by_role("button", name="Filter").click()
    assert page.get_by_role("heading", name="Which customer?").is_visible()
    assert page.get_by_label("Customer", exact=True).input_value() == "Northwind"
    assert serious_violations(page) == []
    page.get_by_role("link", name="Northwind Two").click()
    page.wait_for_url(f"{base}/activity?customer=*&kind=trial")
    assert "Customer: Northwind Two" in page.get_by_role("list", name="Active filters").inner_text()
    assert errors == []


def test_assign_then_remove_the_assignment(gaps_live: LiveServer, page: Any) -> None:
    errors = console_errors(page)
    _open_customer(page, gaps_live, "Acme Browsers")
    section = page.locator("section[aria-labelledby=assign-head]")
    section.get_by_label("Assign to").select_option(label="Pat Partner (pat@demo-partner.example)")
    section.get_by_role("button", name="Assign").click()
    page.wait_for_url("**done=assigned*")
    assert "pat@demo-partner.example" in section.locator("ul.assigned").inner_text()
    assert serious_violations(page) == []
    section.get_by_role("button", name="Remove the assignment of Pat Partner").click()
    page.wait_for_url("**done=unassigned*")
    assert page.get_by_role("status").inner_text() == "The assignment was removed."
    assert section.locator("ul.assigned").count() == 0
    options = section.get_by_label("Assign to").locator("option").all_inner_texts()
    assert "Pat Partner (pat@demo-partner.example)" in options  # may be assigned again
    assert errors == []
