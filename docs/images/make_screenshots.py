"""Takes the README's screenshots (a dev tool, not part of the app).

usage:
  .venv/bin/python docs/images/make_screenshots.py
      starts a demo server on loopback (a fresh sandbox SQLite database with the demo world,
      a trial for a new customer and one with devices ordered) and shoots the portal: the
      sign-in, customer list, customer page, wizard steps, devices, settings, activity and
      the trials team's device extension queue
  .venv/bin/python docs/images/make_screenshots.py http://127.0.0.1:8000 [consent-token]
      the landing page and mailbox of a running trialhub (and a consent page)

Needs Debian's chromium (/usr/bin/chromium) and `pip install playwright`; it never
downloads a browser. A page that does not exist in this checkout is skipped with a message.
"""

from __future__ import annotations

import re
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import sync_playwright

FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUT = Path(__file__).parent
VIEWPORT = {"width": 1100, "height": 720}


def main(base: str, consent_token: str | None) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base}/")
        page.screenshot(path=OUT / "landing.png")
        page.goto(f"{base}/mailbox")
        page.screenshot(path=OUT / "mailbox.png")
        link = page.get_by_role("link", name=re.compile("ends in 7 days")).first
        if link.count():
            link.click()
            page.wait_for_load_state()
            page.screenshot(path=OUT / "notice.png", full_page=True)
        if consent_token:
            page.goto(f"{base}/consent/{consent_token}")
            page.screenshot(path=OUT / "consent.png")
        browser.close()


# ---- the portal, on a demo server this script starts ------------------------------------


def portal(base: str, seeded: dict[str, str]) -> None:
    from trialhub.services.demo import DEMO_PASSWORD, OPERATOR_EMAIL, SALES_EMAIL

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport=VIEWPORT)
        shoot(page, base, "/signin", "portal-signin.png")
        sign_in(page, base, SALES_EMAIL, DEMO_PASSWORD)
        shoot(page, base, "/customers", "portal-customers.png")
        shoot(page, base, f"/customers/{seeded['org_id']}", "portal-customer.png", full=True)
        wizard(page, base)
        devices = f"/trials/{seeded['device_trial']}/devices"
        shoot(page, base, devices, "portal-devices.png", full=True)
        shoot(page, base, "/settings", "portal-settings.png", full=True)
        shoot(page, base, "/activity", "portal-activity.png")
        page.context.clear_cookies()
        sign_in(page, base, OPERATOR_EMAIL, DEMO_PASSWORD)
        shoot(page, base, "/devices/extension-requests", "portal-device-extensions.png")
        browser.close()


def sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/customers")


def shoot(page: Any, base: str, path: str, name: str, *, full: bool = False) -> bool:
    answer = page.goto(f"{base}{path}")
    if answer is None or answer.status == 404:
        print(f"skipped {name}: {path} is not in this checkout")
        return False
    page.screenshot(path=OUT / name, full_page=full)
    print(f"saved {name}")
    return True


def wizard(page: Any, base: str) -> None:
    """The Start Trial wizard's first steps: each screen, then Next (with what the form
    asks filled in where the labels are the seed's)."""
    if not shoot(page, base, "/trials/new", "portal-wizard-1.png", full=True):
        return
    answers = {
        "Company name": "Initrode",
        "Administrator email": "ivy@initrode.example",
        "Admin email": "ivy@initrode.example",
    }
    for step in range(2, 5):
        for label, value in answers.items():
            box = page.get_by_label(label, exact=True)
            if box.count() == 1 and box.is_editable():
                box.fill(value)
        for label in ("Business vertical", "Country"):
            choice = page.get_by_label(label, exact=True)
            if choice.count() == 1 and choice.evaluate("e => e.tagName") == "SELECT":
                choice.select_option(index=1)
        next_button = page.get_by_role("button", name="Next")
        if not next_button.count():
            return
        next_button.first.click()
        page.wait_for_load_state()
        page.screenshot(path=OUT / f"portal-wizard-{step}.png", full_page=True)
        print(f"saved portal-wizard-{step}.png")


def seed(url: str, public_url: str) -> tuple[Any, dict[str, str]]:
    """A sandbox database with the demo world, a trial for a new customer (Meetings and
    Messaging) and a Calling trial with phones ordered."""
    from trialhub.bootstrap import build_context
    from trialhub.services import accounts, devices, trials
    from trialhub.services.demo import SALES_EMAIL, ensure_demo
    from trialhub.services.devices.schemas import OrderShipment
    from trialhub.services.trials.schemas import StartTrial
    from trialhub.settings import Settings

    settings = Settings()
    ctx = build_context(settings, database_url=url, public_url=public_url, sandbox=True, demo=True)
    ensure_demo(ctx)
    sales = accounts.actor_for_email(ctx, SALES_EMAIL)
    first = trials.start_trial(ctx, sales, StartTrial.model_validate(_trial_body("Acme Corp")))
    calling = _trial_body("Globex", services=[{"code": "calling"}], user_licenses=5)
    device_trial = trials.start_trial(ctx, sales, StartTrial.model_validate(calling))
    order = OrderShipment.model_validate(_ORDER)
    devices.order_shipment(ctx, sales, device_trial.id, order)
    return ctx, {"org_id": first.customer_id, "device_trial": device_trial.id}


def _trial_body(company: str, **over: Any) -> dict[str, Any]:
    slug = company.lower().split()[0]
    body: dict[str, Any] = {
        "customer": {
            "company_name": company,
            "admin_email": f"admin@{slug}.example",
            "business_vertical": "retail",
            "country": "FR",
            "supported_location_ack": True,
        },
        "services": [{"code": "meetings", "edition": "enterprise"}, {"code": "messaging"}],
        "user_licenses": 50,
        "meetings": {"site_url": f"{slug}-trial.webex.com", "time_zone": "Europe/Paris"},
    }
    if "services" in over:
        body.pop("meetings")
    return body | over


_ORDER = {
    "recipient": "customer",
    "address": {
        "name": "Greta Weber",
        "phone": "+49 30 1234567",
        "email": "greta@globex.example",
        "street": "Unter den Linden 5",
        "city": "Berlin",
        "postal_code": "10117",
        "country": "DE",
    },
    "devices": [{"model": "desk-phone-9871", "quantity": 3}],
    "poe_supported": True,
}


@contextmanager
def demo_server() -> Iterator[tuple[str, dict[str, str]]]:
    """uvicorn in a thread on a free loopback port, as `trialhub serve --demo --sandbox`."""
    import uvicorn

    from trialhub.api.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        base = f"http://127.0.0.1:{port}"
        ctx, seeded = seed(f"sqlite:///{tmp}/screenshots.db", base)
        config = uvicorn.Config(
            create_app(ctx), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        try:
            yield base, seeded
        finally:
            server.should_exit = True
            thread.join(timeout=10)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(sys.argv[1].rstrip("/"), sys.argv[2] if len(sys.argv) > 2 else None)
    else:
        with demo_server() as (base, seeded):
            portal(base, seeded)
