"""Signed webhooks: subscriptions, fan-out in the transaction, delivery that verifies with the
published Standard Webhooks scheme, retries and the delivery log (rules E1, E2)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import World, free_port, make_world, new_customer_body
from tests.support.servers import Receiver
from trialhub.clock import MovableClock
from trialhub.notify.webhooks import HttpWebhookSender
from trialhub.services.kernel.ports import WebhookRequest
from trialhub.services.messaging import delivery
from trialhub.store.repositories import Scope

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_signature_is_the_published_scheme(receiver: Receiver) -> None:
    body = json.dumps({"type": "trial.expired", "data": {"trial_id": "trl_1"}})
    sent_at = 1_767_000_000
    result = HttpWebhookSender(allow_loopback=True).send(
        WebhookRequest("whk_1", receiver.url, SECRET, "msg_1", sent_at, body)
    )
    assert result.success
    assert result.status_code == 200
    ((headers, raw),) = receiver.requests
    assert headers["webhook-id"] == "msg_1"
    assert headers["webhook-timestamp"] == str(sent_at)
    expected = Webhook(SECRET).sign("msg_1", datetime.fromtimestamp(sent_at, tz=UTC), raw.decode())
    assert headers["webhook-signature"] == expected
    assert raw.decode() == body


def test_a_fresh_delivery_verifies_end_to_end(receiver: Receiver) -> None:
    now = int(time.time())
    body = '{"type":"trial.active"}'
    HttpWebhookSender(allow_loopback=True).send(
        WebhookRequest("whk_1", receiver.url, SECRET, "msg_2", now, body)
    )
    ((headers, raw),) = receiver.requests
    assert Webhook(SECRET).verify(raw, headers) == {"type": "trial.active"}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(raw, headers)  # another secret fails
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(raw + b" ", headers)  # a tampered body fails


def test_failures_are_reported_not_raised(receiver: Receiver) -> None:
    receiver.status = 500
    got = HttpWebhookSender(allow_loopback=True).send(
        WebhookRequest("w", receiver.url, SECRET, "m", 1, "{}")
    )
    assert (got.success, got.status_code, got.error) == (False, 500, "HTTP 500")
    closed = f"http://127.0.0.1:{free_port()}/"
    got = HttpWebhookSender(timeout=2, allow_loopback=True).send(
        WebhookRequest("w", closed, SECRET, "m", 1, "{}")
    )
    assert got.success is False
    assert got.status_code is None
    assert got.error


def test_subscriptions_roles_and_tenancy(
    client: TestClient, world: World, receiver: Receiver
) -> None:
    body = {"url": receiver.url, "event_types": ["trial.created"]}
    for role in ("sales_admin", "partner_admin", "read_only"):
        r = client.post("/v1/webhooks", json=body, headers=world.login(role).headers)
        assert r.status_code == 403
        assert r.json()["rule"] == "P2"
    r = client.post("/v1/webhooks", json=body, headers=world.partner_full.headers)
    assert r.status_code == 201
    assert r.json()["secret"].startswith("whsec_")
    listed = client.get("/v1/webhooks", headers=world.sales_full.headers).json()
    assert [w["secret"] for w in listed] == [None]  # shown once only
    other = make_world(world.ctx, name="B")
    assert client.get("/v1/webhooks", headers=other.sales_full.headers).json() == []
    wid = r.json()["id"]
    assert client.delete(f"/v1/webhooks/{wid}", headers=other.sales_full.headers).status_code == 404
    bad = client.post(
        "/v1/webhooks",
        json={"url": "http://example.com/x", "event_types": ["x.y"]},
        headers=world.sales_full.headers,
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "url"


def test_events_fan_out_and_deliver_signed(
    client: TestClient, world: World, receiver: Receiver, clock: MovableClock
) -> None:
    h = world.sales_full.headers
    created = client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["trial.created", "trial.active"]},
        headers=h,
    ).json()
    client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["trial.expired"]}, headers=h
    )
    other = make_world(world.ctx, name="B")
    theirs = client.post(
        "/v1/webhooks",
        json={"url": receiver.url, "event_types": ["*"]},
        headers=other.sales_full.headers,
    ).json()
    trial = client.post("/v1/trials", json=new_customer_body(), headers=h).json()
    ctx = world.ctx
    with ctx.uow(Scope.system()) as uow:
        queued = [(m.recipient, m.template) for m in uow.outbox.all() if m.channel == "webhook"]
    mine = sorted(q for q in queued if q[0] != theirs["id"])
    assert mine == [(created["id"], "trial.active"), (created["id"], "trial.created")]
    # the other partner's catch-all endpoint hears only its own events (rule P3)
    assert [t for r, t in queued if r == theirs["id"]] == ["webhook.created"]
    ctx.webhook_sender = HttpWebhookSender(allow_loopback=True)
    receiver.status = 503
    report = delivery.deliver(ctx)
    # each endpoint's first failure ends its turn: its other message waits for the backoff
    assert (report.sent, report.failed) == (0, 2)
    receiver.status = 200
    clock.advance(delivery.backoff(1))
    assert delivery.deliver(ctx).sent == 3
    got = [json.loads(raw) for _, raw in receiver.requests]
    trial_events = [g for g in got if g["type"].startswith("trial.")]
    assert sorted({g["type"] for g in trial_events}) == ["trial.active", "trial.created"]
    assert len(trial_events) == 3  # one refused, then both delivered
    assert {g["data"]["trial_id"] for g in trial_events} == {trial["id"]}
    ids = [hdrs["webhook-id"] for hdrs, raw in receiver.requests if b"trial." in raw]
    assert len(set(ids)) == 2  # a retry keeps its webhook-id, so receivers can dedupe
    log = client.get(f"/v1/webhooks/{created['id']}/deliveries", headers=h).json()
    assert sorted((d["success"], d["status_code"]) for d in log) == [
        (False, 503),
        (True, 200),
        (True, 200),
    ]
    client.delete(f"/v1/webhooks/{created['id']}", headers=h)
    client.post("/v1/trials", json=new_customer_body(), headers=h)
    with ctx.uow(Scope.system()) as uow:
        mine_after = [m for m in uow.outbox.all() if m.recipient == created["id"]]
        assert len(mine_after) == 2  # a deleted endpoint gets nothing new


def test_signatures_carry_real_time_even_on_a_moved_clock(
    client: TestClient, world: World, receiver: Receiver, clock: MovableClock
) -> None:
    """A sandbox clock weeks ahead must not make receivers reject the signature: the
    webhook-timestamp header is wall-clock time (Standard Webhooks allow 5 minutes)."""
    h = world.sales_full.headers
    created = client.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["trial.created"]}, headers=h
    ).json()
    clock.advance(timedelta(days=45))
    client.post("/v1/trials", json=new_customer_body(), headers=h)
    world.ctx.webhook_sender = HttpWebhookSender(allow_loopback=True)
    assert delivery.deliver(world.ctx).sent == 1
    ((headers, raw),) = receiver.requests
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert Webhook(created["secret"]).verify(raw, headers)["type"] == "trial.created"
