"""Emails: templates, a real SMTP server on loopback (aiosmtpd), the local mailbox (rule E2)."""

from __future__ import annotations

import socket
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, free_port, new_customer_body
from tests.support.servers import start_smtp
from trialhub.api.app import create_app
from trialhub.clock import MovableClock
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import TEMPLATES, JinjaRenderer
from trialhub.notify.smtp import SmtpMailer
from trialhub.services.kernel.ports import DeliveryError, Email
from trialhub.services.messaging import delivery, mailbox
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.repositories import Scope

RENDERER = JinjaRenderer("http://127.0.0.1:8000", "https://buy.example/?org={org_id}")

PAYLOADS: dict[str, dict[str, Any]] = {
    "consent_request": {
        "consent_url": "http://127.0.0.1:8000/consent/tok123",
        "organization": "Globex <script>",
        "partner": "Reseller",
        "services": ["Webex Calling"],
        "expires_at": "2026-03-12T09:00:00+00:00",
        "recipient_is_full_admin": False,
    },
    "consent_decided": {"organization": "Globex", "decision": "accepted", "access": "full"},
    "consent_expired": {"organization": "Globex", "trial_id": "trl_1"},
    "trial_started": {"organization": "Globex", "partner": "Reseller", "services": ["calling"]},
    "welcome": {"organization": "Globex", "services": ["meetings", "messaging"]},
    "expiry_notice": {
        "organization": "Globex",
        "org_id": "org_9",
        "partner": "Reseller",
        "services": ["calling"],
        "ends_at": "2026-05-31T09:00:00+00:00",
        "days_left": 7,
        "audience": "customer",
    },
    "access_ended": {"organization": "Globex", "services": ["calling"]},
    "trial_lapsed": {
        "organization": "Globex",
        "partner": "R",
        "services": [],
        "audience": "customer",
    },
    "numbers_released": {"organization": "Globex", "partner": "Reseller"},
}
_SHIPMENT = {
    "organization": "Globex",
    "org_id": "org_9",
    "partner": "Reseller",
    "demo_order": "D12345678",
    "devices": [{"model": "Room Bar", "serial_number": "FOC123"}],
    "carrier": "UPS",
    "tracking": "1Z999",
    "device_due_at": "2026-07-18T00:00:00+00:00",
    "due_at": "2026-08-01T00:00:00+00:00",
    "return_carrier": "UPS",
    "return_instructions": "Affix the return label that came in the box and call UPS.",
    "audience": "customer",
}
PAYLOADS["device_extension_requested"] = {
    "organization": "Globex",
    "partner": "Reseller",
    "trial_id": "trl_1",
    "request_id": "dxr_1",
    "requested_end": "2026-08-01T00:00:00+00:00",
    "reason": "<b>pilot</b> runs late",
}
PAYLOADS["device_extension_decided"] = {
    **PAYLOADS["device_extension_requested"],
    "decision": "approved",
    "note": None,
}
PAYLOADS["trial_converted"] = {
    "organization": "Globex",
    "org_id": "org_9",
    "partner": "Reseller",
    "order_id": "ord_1",
    "services": ["calling"],
    "lost_services": ["messaging"],
    "provisioning_email": "hank@globex.example",
    "audience": "customer",
}
PAYLOADS["conversion_requested"] = PAYLOADS["trial_converted"]
PAYLOADS["conversion_declined"] = {**PAYLOADS["trial_converted"], "note": "<i>no credit</i>"}
PAYLOADS["webhook_disabled"] = {
    "partner": "Globex <script> Reseller",
    "endpoint_id": "whk_1",
    "url": "https://hooks.globex.example/in",
    "failing_since": "2026-03-02T09:00:00+00:00",
}
PAYLOADS["password_reset"] = {
    "name": "Hank <script> of Globex",
    "reset_url": "http://127.0.0.1:8000/password/reset/pr_tok",
    "expires_at": "2026-03-02T10:00:00+00:00",
}
for _name in ("devices_shipped", "device_return_reminder", "devices_overdue", "return_label"):
    PAYLOADS[_name] = _SHIPMENT


def test_device_emails_name_the_dates_serials_and_carrier() -> None:
    """Rules D7, D8: the EULA email gives the device due date and the return date two weeks
    later; reminders tell the customer how to return, and the partner to follow up."""
    shipped = RENDERER.render("devices_shipped", _SHIPMENT, recipient="c@globex.example")
    assert "18 July 2026" in shipped.text
    assert "01 August 2026" in shipped.text
    assert "FOC123" in shipped.text
    assert "FOC123" in shipped.html
    assert "call UPS" in shipped.text
    assert "D12345678" in shipped.subject
    customer = RENDERER.render("device_return_reminder", _SHIPMENT, recipient="c@x.example")
    partner = RENDERER.render(
        "device_return_reminder", {**_SHIPMENT, "audience": "partner"}, recipient="p@x.example"
    )
    assert "call UPS" in customer.text
    assert "call UPS" not in partner.text
    assert "overdue return is flagged" in partner.text
    overdue = RENDERER.render("devices_overdue", _SHIPMENT, recipient="c@x.example")
    assert "overdue" in overdue.subject
    assert "have not been returned" in overdue.text


@pytest.mark.parametrize("template", TEMPLATES)
def test_every_template_has_subject_text_and_html(template: str) -> None:
    out = RENDERER.render(template, PAYLOADS[template], recipient="a@b.example")
    assert out.subject
    assert "\n" not in out.subject
    assert "Globex" in out.text
    assert out.html.startswith("<!doctype html>")
    assert "<script>" not in out.html  # organization names are escaped


def test_links_the_rules_name() -> None:
    consent = RENDERER.render(
        "consent_request", PAYLOADS["consent_request"], recipient="x@y.example"
    )
    assert "http://127.0.0.1:8000/consent/tok123" in consent.text  # rule K2
    assert 'href="http://127.0.0.1:8000/consent/tok123"' in consent.html
    assert "Only a full administrator" in consent.text  # rule K1: a non-full admin is told
    notice = RENDERER.render("expiry_notice", PAYLOADS["expiry_notice"], recipient="x@y.example")
    assert "https://buy.example/?org=org_9" in notice.text  # rule T4: the purchase link
    assert "7 days" in notice.subject
    partner = RENDERER.render(
        "expiry_notice",
        {**PAYLOADS["expiry_notice"], "audience": "partner", "days_left": 0},
        recipient="p@x.example",
    )
    assert "buy.example" not in partner.text
    assert "ends today" in partner.subject
    assert (
        "Webex Meetings, Webex Messaging"
        in RENDERER.render("welcome", PAYLOADS["welcome"], recipient="a@b.example").text
    )


def test_unknown_template_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown email template"):
        RENDERER.render("spam", {}, recipient="a@b.example")


@pytest.fixture
def smtp_port() -> int:
    return free_port()


def test_smtp_mailer_sends_both_parts(smtp_port: int) -> None:
    controller, inbox = start_smtp(smtp_port)
    try:
        SmtpMailer("127.0.0.1", smtp_port, sender="trialhub <no-reply@t.example>").send(
            Email(
                to="ann@acme.example",
                subject="Hi",
                text="plain",
                html="<p>html</p>",
                message_id="<m1@trialhub>",
            )
        )
    finally:
        controller.stop()
    (msg,) = inbox.messages
    assert msg["To"] == "ann@acme.example"
    assert msg["Message-ID"] == "<m1@trialhub>"
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.get_payload()] == ["text/plain", "text/html"]  # type: ignore[union-attr]


def test_smtp_down_is_a_delivery_error(smtp_port: int) -> None:
    with pytest.raises(DeliveryError, match=str(smtp_port)):
        SmtpMailer("127.0.0.1", smtp_port, sender="x@y.example", timeout=2).send(
            Email(to="a@b.example", subject="s", text="t", html="h", message_id="<m@t>")
        )


def test_smtp_down_for_a_while_then_up_every_email_arrives_once(
    sqlite_world: World, clock: MovableClock, smtp_port: int
) -> None:
    ctx = sqlite_world.ctx
    ctx.renderer = RENDERER
    ctx.mailer = SmtpMailer("127.0.0.1", smtp_port, sender="t@t.example", timeout=2)
    for _ in range(3):  # three welcome emails queued
        trials.start_trial(
            ctx, sqlite_world.sales_full.actor, StartTrial.model_validate(new_customer_body())
        )
    failed = delivery.deliver(ctx)
    assert (failed.sent, failed.failed) == (0, 3)  # nobody listens on the port yet
    with ctx.uow(Scope.system()) as uow:
        waits = {m.available_at - clock.now() for m in uow.outbox.all()}
        assert waits == {delivery.backoff(1)}
    assert delivery.deliver(ctx).failed == 0  # backing off: nothing retried too early
    clock.advance(delivery.backoff(1))
    assert delivery.deliver(ctx).failed == 3  # still down: the delay doubles
    controller, inbox = start_smtp(smtp_port)
    try:
        clock.advance(delivery.backoff(2))
        sent = delivery.deliver(ctx)
        assert sent.sent == 3
        for _ in range(3):
            clock.advance(timedelta(hours=7))
            assert delivery.deliver(ctx).sent == 0
        time.sleep(0.2)
    finally:
        controller.stop()
    ids = Counter(m["Message-ID"] for m in inbox.messages)
    assert len(ids) == 3
    assert set(ids.values()) == {1}  # every email arrived, once


def test_a_crashed_senders_lease_runs_out(sqlite_world: World, clock: MovableClock) -> None:
    ctx = sqlite_world.ctx
    sent: list[str] = []

    class Recorder:
        def send(self, message: Email) -> None:
            sent.append(message.to)

    ctx.renderer = RENDERER
    ctx.mailer = Recorder()
    trials.start_trial(
        ctx, sqlite_world.sales_full.actor, StartTrial.model_validate(new_customer_body())
    )
    leased = delivery.claim_next_email(ctx)  # a sender took it and died before sending
    assert isinstance(leased, delivery.Snapshot)
    assert delivery.deliver(ctx).sent == 0  # the lease holds
    clock.advance(delivery.LEASE)
    assert delivery.deliver(ctx).sent == 1
    assert len(sent) == 1


def test_local_mailbox_shows_delivered_emails(
    sqlite_world: World, sqlite_client: TestClient
) -> None:
    ctx = sqlite_world.ctx
    ctx.renderer = RENDERER
    ctx.mailer = MailboxMailer(ctx.db, ctx.clock)
    ctx.local_mailbox = True  # a demo or sandbox server (test_local_mailbox.py)
    body = new_customer_body()
    trials.start_trial(ctx, sqlite_world.sales_full.actor, StartTrial.model_validate(body))
    assert delivery.deliver(ctx).sent == 1
    (mail,) = mailbox.list_mailbox(ctx)
    assert mail.recipient == body["customer"]["admin_email"]
    assert mail.subject.startswith("Welcome to Webex")
    page = sqlite_client.get("/mailbox")
    assert page.status_code == 200
    assert "Welcome to Webex" in page.text
    one = sqlite_client.get(f"/mailbox/{mail.id}")
    assert "Sign in" in one.text
    assert sqlite_client.get("/mailbox/999").status_code == 404
    assert create_app(ctx)  # the app builds with the mailbox router


def test_free_port_is_really_free() -> None:
    port = free_port()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
