"""The pages render in Chromium under the Content-Security-Policy with no violation: the
API reference (Swagger UI from a package, no CDN, no inline script), the landing page, the
local mailbox and an email in it."""

from __future__ import annotations

from typing import Any

from tests.conftest import LiveServer, make_world, new_customer_body
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.services.messaging import delivery
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial


def _watch(page: Any, base: str) -> tuple[list[str], list[str]]:
    """Console errors (CSP violations are reported there) and requests to other origins."""
    errors: list[str] = []
    foreign: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"{m.text} {m.location}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: None if r.url.startswith(base) else foreign.append(r.url))
    return errors, foreign


def test_api_reference_renders_with_no_csp_violation(live: LiveServer, page: Any) -> None:
    errors, foreign = _watch(page, live.url)
    response = page.goto(f"{live.url}/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)  # operations listed
    assert page.locator(".opblock").count() >= 30
    assert "trialhub" in page.text_content(".title")
    page.locator(".opblock-summary").first.click()  # an operation opens
    page.wait_for_selector(".opblock-body", timeout=5_000)
    assert errors == []
    assert foreign == []  # no CDN, no online validator


def test_pages_render_with_no_csp_violation(live: LiveServer, page: Any) -> None:
    ctx = live.ctx
    ctx.local_mailbox = True
    ctx.renderer = JinjaRenderer(live.url, "https://buy.example/{org_id}")
    ctx.mailer = MailboxMailer(ctx.db, ctx.clock)
    world = make_world(ctx)
    trials.start_trial(ctx, world.sales_full.actor, StartTrial.model_validate(new_customer_body()))
    assert delivery.deliver(ctx).sent == 1
    errors, foreign = _watch(page, live.url)
    page.goto(f"{live.url}/")
    # the stylesheet applied: the buttons are blue, which no inline style could do now
    color = page.eval_on_selector("a.button", "e => getComputedStyle(e).backgroundColor")
    assert color == "rgb(11, 87, 208)"
    page.goto(f"{live.url}/mailbox")
    page.click("text=Welcome to Webex")
    frame = page.frame_locator("iframe")
    assert "Sign in" in frame.locator("body").text_content()
    # the email keeps its own inline styles inside its frame (a CSP of its own)
    weight = frame.locator("p").first.evaluate("e => getComputedStyle(e).fontWeight")
    assert weight == "600"
    assert errors == []
    page.goto(f"{live.url}/consent/not-a-token")  # an error page, styled the same way
    assert page.locator(".error").count() == 1
    color = page.eval_on_selector(".error", "e => getComputedStyle(e).color")
    assert color == "rgb(138, 28, 19)"
    assert not [e for e in errors if "Content Security Policy" in e]
    assert foreign == []
