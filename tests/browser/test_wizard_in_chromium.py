"""The Start Trial wizard in Chromium: the whole wizard for a new customer (axe on every
step), the existing-organization path through consent accepted in a second browser context
from the mailbox link and then provisioning, and the wizard with the keyboard only."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import console_errors, serious_violations, sign_in
from tests.conftest import LiveServer, start_live_server
from tests.support.factories import make_org
from trialhub.clock import MovableClock
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.services import accounts, customers
from trialhub.services.demo import SALES_EMAIL, ensure_demo
from trialhub.services.kernel.context import Context
from trialhub.services.messaging import delivery


@pytest.fixture
def wizard_live(sqlite_ctx: Context, clock: MovableClock) -> Iterator[LiveServer]:
    """The demo world, an existing organization (Globex), and the local mailbox (demo)."""
    sqlite_ctx.wall_clock = clock
    sqlite_ctx.mailer = MailboxMailer(sqlite_ctx.db, sqlite_ctx.clock)
    sqlite_ctx.renderer = JinjaRenderer(sqlite_ctx.public_url, "https://buy.example/{org_id}")
    sqlite_ctx.local_mailbox = True
    ensure_demo(sqlite_ctx)
    make_org(sqlite_ctx, full=("boss@globex.example",))
    yield from start_live_server(sqlite_ctx)


def _noserious_violations(page: Any, step: str) -> None:
    assert serious_violations(page) == [], step


def _fill_customer(page: Any, company: str, email: str) -> None:
    page.get_by_label("Company name").fill(company)
    page.get_by_label("Administrator email").fill(email)
    page.get_by_label("Business vertical").select_option(label="Retail")
    page.get_by_label("Country for determining data residency region").select_option("DE")
    # rule C2: the region shows as soon as the country is chosen (htmx)
    page.get_by_text("Data residency region: European Union").wait_for()
    page.get_by_label(re.compile("supported location")).check()


def test_the_whole_wizard_for_a_new_customer(wizard_live: LiveServer, page: Any) -> None:
    errors = console_errors(page)
    base = wizard_live.url
    sign_in(page, base)
    page.wait_for_url(f"{base}/customers")
    page.get_by_role("link", name="Start trial").click()
    page.get_by_role("heading", name="Customer details").wait_for()
    _noserious_violations(page, "customer")
    page.get_by_role("button", name="Next").click()  # nothing typed: errors by their fields
    assert page.get_by_label("Company name").get_attribute("aria-invalid") == "true"
    _noserious_violations(page, "customer with errors")
    _fill_customer(page, "Initrode", "peter@initrode.example")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Services").wait_for()
    _noserious_violations(page, "services")
    page.get_by_label("Webex Meetings", exact=True).check()
    page.get_by_label("Webex Calling").check()
    page.get_by_label(re.compile("^User licenses")).fill("25")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Meetings site").wait_for()
    _noserious_violations(page, "meetings")
    page.get_by_label("Webex Meetings site URL").fill("initrode.webex.com")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Devices").wait_for()
    assert page.get_by_text(re.compile("Phones do not include power supplies")).is_visible()
    _noserious_violations(page, "devices")
    page.get_by_label("Skip this step").check()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Review").wait_for()
    _noserious_violations(page, "review")
    assert page.get_by_text("initrode.webex.com (Europe/Berlin)").is_visible()
    page.get_by_role("button", name="Save and set up later").dblclick()
    page.get_by_role("heading", name="The trial was saved.").wait_for()
    sales = accounts.actor_for_email(wizard_live.ctx, SALES_EMAIL)
    found = customers.list_customers(wizard_live.ctx, sales, text="Initrode").items
    assert len(found) == 1  # a double click starts one trial
    assert page.get_by_text("Awaiting provisioning details").is_visible()
    _noserious_violations(page, "saved")
    _provision(page)
    # rule A1: "+" next to Trials; the services it cannot get, each with its reason
    customer_page = page.get_by_role("link", name="Customer page").get_attribute("href")
    page.goto(f"{base}{customer_page}/trials/new")
    page.get_by_role("heading", name="Add a trial to Initrode").wait_for()
    assert page.get_by_label("Webex Calling").is_disabled()
    _noserious_violations(page, "add a trial")
    # no CSP violation, no script error; the one 422 is the step sent with errors on purpose
    assert [e for e in errors if "status of 422" not in e] == []


def _provision(page: Any) -> None:
    page.get_by_role("link", name="Set up now").click()
    page.get_by_role("heading", name="Provision the trial").wait_for()
    _noserious_violations(page, "provision")
    page.get_by_role("button", name="Complete provisioning").click()
    page.get_by_role("heading", name=re.compile("Provisioning is complete")).wait_for()
    assert page.get_by_role("status").get_by_text("Active").is_visible()


def test_an_existing_organization_through_consent_then_provisioning(
    wizard_live: LiveServer, page: Any
) -> None:
    base = wizard_live.url
    sign_in(page, base)
    page.wait_for_url(f"{base}/customers")
    page.goto(f"{base}/trials/new")
    _fill_customer(page, "Globex", "boss@globex.example")
    page.get_by_role("button", name="Next").click()
    # rule C3: the organization is shown and must be confirmed
    page.get_by_role("heading", name="Existing organization").wait_for()
    _noserious_violations(page, "existing")
    assert page.get_by_text("Globex", exact=True).is_visible()
    page.get_by_label(re.compile("existing customer organization")).check()
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Webex Messaging").check()
    page.get_by_label(re.compile("^User licenses")).fill("10")
    page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Send trial request").click()
    page.get_by_text("Trial pending customer consent").wait_for()
    saved = page.url
    delivery.deliver_emails(wizard_live.ctx)  # the worker's job
    # the customer's full administrator, in a browser of its own, from the mailbox link
    customer = page.context.browser.new_context().new_page()
    customer.goto(f"{base}/mailbox?to=boss@globex.example")
    customer.locator("tbody a").first.click()
    link = re.search(r"/consent/[\w-]+", customer.locator("pre").text_content())
    assert link, "the email carries the consent link"
    customer.goto(base + link.group(0))
    customer.get_by_role("button", name="Accept").click()
    customer.get_by_role("status").wait_for()
    page.goto(saved)
    assert page.get_by_text("Awaiting provisioning details").is_visible()
    _provision(page)


def _tab_to(page: Any, target: str) -> None:
    """Tab (forwards) until the element with this id, or the button with this text, has the
    focus."""
    for _ in range(60):
        page.keyboard.press("Tab")
        focused = page.evaluate("[document.activeElement.id, document.activeElement.textContent]")
        if target in (focused[0], (focused[1] or "").strip()):
            return
    raise AssertionError(f"Tab never reached {target}")


def test_the_wizard_with_the_keyboard_only(wizard_live: LiveServer, page: Any) -> None:
    base = wizard_live.url
    sign_in(page, base)
    page.wait_for_url(f"{base}/customers")
    page.goto(f"{base}/trials/new")
    _tab_to(page, "company_name")
    page.keyboard.type("Keyboard Inc")
    page.keyboard.press("Tab")
    page.keyboard.type("kb@keyboard.example")
    _tab_to(page, "business_vertical")
    page.keyboard.type("Retail")
    _tab_to(page, "country")
    page.keyboard.type("France")
    assert page.get_by_label("Country for determining data residency region").input_value() == "FR"
    _tab_to(page, "supported_location_ack")
    page.keyboard.press("Space")
    _tab_to(page, "Next")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Services").wait_for()
    _tab_to(page, "service-messaging")
    page.keyboard.press("Space")
    _tab_to(page, "user_licenses")
    page.keyboard.type("5")
    page.keyboard.press("Enter")  # Enter in a field means Next
    page.get_by_role("heading", name="Review").wait_for()
    _tab_to(page, "Back")  # Back keeps what was typed
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Services").wait_for()
    assert page.get_by_label(re.compile("^User licenses")).input_value() == "5"
    _tab_to(page, "user_licenses")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Review").wait_for()
    _tab_to(page, "Save and set up now")
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="The trial was saved.").wait_for()
    assert page.get_by_role("status").get_by_text("Active").is_visible()
