"""Devices and settings in Chromium: a device order through the form (rules D1-D3), an API
token issued and shown once (rule P2), and axe finds no serious or critical violation on the
devices page, the extension queue, settings and a webhook's delivery log."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import console_errors, serious_violations, signed_in
from tests.conftest import LiveServer, new_customer_body, start_live_server
from trialhub.clock import MovableClock
from trialhub.services import accounts
from trialhub.services.demo import OPERATOR_EMAIL, SALES_EMAIL, ensure_demo
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial


@pytest.fixture
def trial_live(sqlite_ctx: Context, clock: MovableClock) -> Iterator[tuple[LiveServer, str]]:
    """A live server with the demo world and a Calling trial of the demo partner."""
    sqlite_ctx.wall_clock = clock
    ensure_demo(sqlite_ctx)
    sales = accounts.actor_for_email(sqlite_ctx, SALES_EMAIL)
    body = new_customer_body(
        services=[{"code": "calling"}], meetings=None, user_licenses=5, duration_days=90
    )
    body["customer"]["company_name"] = "Acme Devices"
    trial = trials.start_trial(sqlite_ctx, sales, StartTrial.model_validate(body))
    for server in start_live_server(sqlite_ctx):
        yield server, trial.id


def sign_in(page: Any, live: LiveServer, email: str = SALES_EMAIL) -> None:
    signed_in(page, live, email)
    page.goto(f"{live.url}/customers")


def _fill_order(page: Any, country: str) -> None:
    """Two phones, PoE supported, to Marie Curie in `country`."""
    page.get_by_label("Desk Phone 9841").fill("2")
    page.get_by_label(re.compile("support Power over Ethernet")).select_option("yes")
    page.get_by_label("Recipient").fill("Marie Curie")
    page.get_by_label("Phone", exact=True).fill("+33 1 23 45 67 89")
    page.get_by_label("Email").fill("marie@acme.example")
    page.get_by_label("Street").fill("1 rue de la Paix")
    page.get_by_label("City").fill("Paris")
    page.get_by_label("Postal code").fill("75002")
    page.get_by_label("Country").select_option(country)


def test_order_devices_in_the_browser(trial_live: tuple[LiveServer, str], page: Any) -> None:
    live, trial = trial_live
    errors = console_errors(page)
    sign_in(page, live)
    page.goto(f"{live.url}/trials/{trial}/devices")
    assert page.get_by_text("Phones ship without power supplies").first.is_visible()  # D3
    assert serious_violations(page) == []
    _fill_order(page, "FR")
    page.get_by_role("button", name="Order devices").click()
    page.wait_for_url(re.compile(r".*done=ordered$"))
    assert (
        page.get_by_role("status").text_content() == "Devices ordered; the trials team ships them."
    )
    assert page.get_by_role("cell", name=re.compile(r"^D\d{8}$")).is_visible()  # rule D9
    assert serious_violations(page) == []
    assert errors == []


def test_a_refused_order_shows_the_error_at_its_field(
    trial_live: tuple[LiveServer, str], page: Any
) -> None:
    live, trial = trial_live
    sign_in(page, live)
    page.goto(f"{live.url}/trials/{trial}/devices")
    _fill_order(page, "US")
    page.get_by_role("button", name="Order devices").click()
    deal = page.get_by_label(re.compile("Deal id"))
    assert deal.get_attribute("aria-invalid") == "true"
    assert "need the deal id" in page.locator("#ship-deal-error").text_content()
    assert page.get_by_label("Desk Phone 9841").input_value() == "2"  # kept
    assert serious_violations(page) == []


def test_issue_a_token_shown_once(trial_live: tuple[LiveServer, str], page: Any) -> None:
    live, _ = trial_live
    sign_in(page, live)
    page.goto(f"{live.url}/settings")
    assert serious_violations(page) == []
    page.get_by_label("Label").fill("CRM sync")
    page.get_by_role("button", name="Issue token").click()
    shown = page.locator("#new-token").text_content()
    assert shown.startswith("th_")
    assert serious_violations(page) == []
    page.goto(f"{live.url}/settings")
    assert shown not in page.content()
    assert page.get_by_text(f"{shown[:10]}…").is_visible()
    page.get_by_label("URL (https://)").fill("https://hooks.example.com/trials")
    page.get_by_role("button", name="Add webhook").click()
    assert page.locator("#new-secret").text_content().startswith("whsec_")
    page.get_by_role("link", name=re.compile("Deliveries")).first.click()
    assert page.get_by_text("No deliveries yet.").is_visible()
    assert serious_violations(page) == []


def test_the_trials_team_pages_pass_axe(trial_live: tuple[LiveServer, str], page: Any) -> None:
    live, trial = trial_live
    sign_in(page, live, OPERATOR_EMAIL)
    page.goto(f"{live.url}/devices/extension-requests")
    assert page.get_by_role("heading", name="Device extension requests").is_visible()
    assert serious_violations(page) == []
    page.goto(f"{live.url}/trials/{trial}/devices")
    assert serious_violations(page) == []
