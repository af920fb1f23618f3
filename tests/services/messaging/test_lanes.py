"""Delivery lanes against real receivers on loopback (issue 8 item 10): emails never wait
behind webhooks, webhooks go out concurrently within a bound, a failing endpoint backs off,
trips its breaker and is disabled after days (its partner told), and other endpoints keep
getting their messages (rules E1, E2)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, free_port, make_world
from trialhub.clock import MovableClock
from trialhub.domain.events import DomainEvent
from trialhub.notify.render import JinjaRenderer
from trialhub.notify.webhooks import HttpWebhookSender
from trialhub.services.kernel.ports import Email
from trialhub.services.messaging.outbox import queue_email
from trialhub.services.messaging.webhook_lane import deliver_webhooks
from trialhub.services.messaging.webhooks import CreateWebhook, create_endpoint
from trialhub.store.repositories import Scope
from trialhub.worker import Worker

RENDERER = JinjaRenderer("http://127.0.0.1:8000", "https://buy.example/{org_id}")


class Hooks:
    """One HTTP server; the path says how to answer: /ok, /fail (500), /slow (no answer in
    time). Counts requests per path and the most in flight at once."""

    def __init__(self, slow_seconds: float = 4.0, ok_seconds: float = 0.0) -> None:
        self.hits: Counter[str] = Counter()
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["content-length"]))
                path = self.path.strip("/").split("/")[0]
                with hooks.lock:
                    hooks.hits[path] += 1
                    hooks.in_flight += 1
                    hooks.most_in_flight = max(hooks.most_in_flight, hooks.in_flight)
                try:
                    time.sleep(slow_seconds if path == "slow" else ok_seconds)
                    self.send_response(500 if path == "fail" else 200)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up waiting
                finally:
                    with hooks.lock:
                        hooks.in_flight -= 1

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def url(self, path: str, n: int = 0) -> str:
        return f"http://127.0.0.1:{self.port}/{path}/{n}"


@pytest.fixture
def hooks() -> Iterator[Hooks]:
    h = Hooks()
    yield h
    h.server.shutdown()
    h.server.server_close()


def subscribe(world: World, url: str) -> str:
    cmd = CreateWebhook(url=url, event_types=["trial.expired"])
    return create_endpoint(world.ctx, world.partner_full.actor, cmd).id


def happen(world: World, times: int = 1) -> None:
    """`times` events of the partner, each fanned out to its subscribed endpoints."""
    ctx = world.ctx
    with ctx.uow(Scope.system("test")) as uow:
        for i in range(times):
            uow.record(
                DomainEvent(
                    action="trial.expired",
                    subject_type="trial",
                    subject_id=f"trl_{i}",
                    at=ctx.now(),
                    partner_id=world.partner_id,
                    trial_id=f"trl_{i}",
                )
            )
        uow.commit()


class StampedMailer:
    """Records each email with how many webhook requests were in flight when it went."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks
        self.sent: list[tuple[int, str]] = []

    def send(self, email: Email) -> None:
        self.sent.append((self.hooks.in_flight, email.to))


def test_an_email_never_waits_behind_slow_webhooks(
    sqlite_world: World, hooks: Hooks, clock: MovableClock
) -> None:
    ctx = sqlite_world.ctx
    for n in range(10):
        subscribe(sqlite_world, hooks.url("slow", n))
    happen(sqlite_world, 10)  # 100 webhooks, each would hold a sender for the whole timeout
    # a short timeout: the endpoints answer long after it (Hooks.slow_seconds), and the worker
    # stops sooner after the test
    ctx.webhook_sender = HttpWebhookSender(timeout=0.5, allow_loopback=True)
    mailer = StampedMailer(hooks)
    ctx.renderer, ctx.mailer = RENDERER, mailer
    thread, stop = Worker(ctx, interval=0.02).start_thread()
    try:
        deadline = time.monotonic() + 10
        while hooks.in_flight == 0:  # the webhook lane is busy with slow endpoints
            assert time.monotonic() < deadline
            time.sleep(0.01)
        queued = time.monotonic()
        with ctx.uow(Scope.system("test")) as uow:
            queue_email(
                uow,
                template="welcome",
                recipient="ann@acme.example",
                cause="test:welcome",
                payload={"organization": "Acme", "services": ["messaging"]},
                now=ctx.now(),
            )
            uow.commit()
        while not mailer.sent:
            assert time.monotonic() - queued < 10
            time.sleep(0.01)
        # it went while the slow webhooks were still waiting for their answers
        in_flight, to = mailer.sent[0]
        assert (to, in_flight > 0) == ("ann@acme.example", True)
    finally:
        stop.set()
        thread.join(timeout=30)


def test_webhooks_go_out_concurrently_within_the_bound(sqlite_world: World) -> None:
    ctx = sqlite_world.ctx
    hooks = Hooks(ok_seconds=0.3)
    try:
        for n in range(12):
            subscribe(sqlite_world, hooks.url("ok", n))
        happen(sqlite_world)
        ctx.policy = replace(ctx.policy, webhook_concurrency=3)
        ctx.webhook_sender = HttpWebhookSender(timeout=5, allow_loopback=True)
        report = deliver_webhooks(ctx)
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()
    assert report.sent == 12
    assert hooks.most_in_flight == 3  # concurrent, and never more than the bound


def _endpoint(client: TestClient, world: World, endpoint_id: str) -> dict[str, Any]:
    listed = client.get("/v1/webhooks", headers=world.partner_full.headers).json()
    return next(e for e in listed if e["id"] == endpoint_id)  # type: ignore[no-any-return]


def test_a_failing_endpoint_backs_off_and_trips_its_breaker(
    sqlite_world: World, sqlite_client: TestClient, hooks: Hooks, clock: MovableClock
) -> None:
    ctx = sqlite_world.ctx
    policy = ctx.policy
    failing = subscribe(sqlite_world, hooks.url("fail"))
    happen(sqlite_world, 10)
    ctx.webhook_sender = HttpWebhookSender(timeout=2, allow_loopback=True)
    assert deliver_webhooks(ctx).failed == 1  # one attempt, not ten
    assert hooks.hits["fail"] == 1
    assert deliver_webhooks(ctx).failed == 0  # backing off: none of its messages is tried
    view = _endpoint(sqlite_client, sqlite_world, failing)
    assert view["failing_since"] is not None
    waits = []
    for _ in range(policy.webhook_breaker_threshold + 2):
        with ctx.uow(Scope.system("test")) as uow:
            endpoint = uow.webhooks.get(failing)
            assert endpoint is not None
            assert endpoint.retry_at is not None
            waits.append(endpoint.retry_at - clock.now())
            clock.set(endpoint.retry_at)
        assert deliver_webhooks(ctx).failed == 1  # one probe per backoff, whatever waits
    assert hooks.hits["fail"] == policy.webhook_breaker_threshold + 3
    assert waits == sorted(waits)  # the backoff grows
    assert waits[-1] > waits[0]
    with ctx.uow(Scope.system("test")) as uow:
        pending = [m for m in uow.outbox.all() if m.recipient == failing and not m.sent_at]
        assert len(pending) == 10  # nothing given up, nothing lost
        assert sum(m.attempts for m in pending) == policy.webhook_breaker_threshold + 3


def test_an_endpoint_failing_for_days_is_disabled_and_its_partner_told(
    sqlite_world: World, sqlite_client: TestClient, hooks: Hooks, clock: MovableClock
) -> None:
    ctx = sqlite_world.ctx
    failing = subscribe(sqlite_world, hooks.url("fail"))
    happen(sqlite_world, 3)
    ctx.webhook_sender = HttpWebhookSender(timeout=2, allow_loopback=True)
    deliver_webhooks(ctx)
    clock.advance(timedelta(days=ctx.policy.webhook_disable_after_days) - timedelta(minutes=1))
    deliver_webhooks(ctx)
    assert _endpoint(sqlite_client, sqlite_world, failing)["disabled_at"] is None
    clock.advance(timedelta(hours=1))
    deliver_webhooks(ctx)
    view = _endpoint(sqlite_client, sqlite_world, failing)
    assert (view["disabled_reason"], view["disabled_at"] is not None) == ("failing", True)
    with ctx.uow(Scope.system("test")) as uow:
        mine = [m for m in uow.outbox.all() if m.recipient == failing]
        assert all(m.sent_at is not None for m in mine)  # given up, not retried for ever
        told = sorted(m.recipient for m in uow.outbox.all() if m.template == "webhook_disabled")
        actions = [e.action for e in uow.audit.since(after=None, limit=1000)]
    # the partner's full administrators, who can enable it again (rule P2)
    assert told == sorted(
        [sqlite_world.sales_full.actor.email, sqlite_world.partner_full.actor.email]
    )
    assert "webhook.disabled" in actions
    happen(sqlite_world)  # a disabled endpoint is offered nothing new
    with ctx.uow(Scope.system("test")) as uow:
        assert len([m for m in uow.outbox.all() if m.recipient == failing]) == len(mine)
    hits = hooks.hits["fail"]
    deliver_webhooks(ctx)
    assert hooks.hits["fail"] == hits
    # enabling it again: only its partner's full administrators; a deleted one stays deleted
    other = make_world(ctx, name="Partner B")
    url = f"/v1/webhooks/{failing}/enable"
    assert sqlite_client.post(url, headers=other.partner_full.headers).status_code == 404
    assert sqlite_client.post(url, headers=sqlite_world.sales.headers).status_code == 403
    enabled = sqlite_client.post(url, headers=sqlite_world.partner_full.headers)
    assert enabled.status_code == 200, enabled.text
    assert (enabled.json()["disabled_at"], enabled.json()["failing_since"]) == (None, None)
    sqlite_client.delete(f"/v1/webhooks/{failing}", headers=sqlite_world.partner_full.headers)
    again = sqlite_client.post(url, headers=sqlite_world.partner_full.headers)
    assert (again.status_code, again.json()["code"]) == (409, "webhook_deleted")


def test_a_healthy_endpoint_of_another_partner_still_gets_its_messages(
    sqlite_world: World, hooks: Hooks
) -> None:
    ctx = sqlite_world.ctx
    for n in range(6):
        subscribe(sqlite_world, hooks.url("slow", n))
    for n in range(6):
        subscribe(sqlite_world, f"http://127.0.0.1:{free_port()}/closed/{n}")  # nobody there
    other = make_world(ctx, name="Partner B")
    healthy = subscribe(other, hooks.url("ok"))
    happen(sqlite_world, 5)
    happen(other, 5)
    # the slow ones answer long after the timeout: a shorter one fails them sooner
    ctx.webhook_sender = HttpWebhookSender(timeout=1, allow_loopback=True)
    first = deliver_webhooks(ctx)
    assert hooks.hits["ok"] == 5
    assert first.failed == 12  # one attempt per failing endpoint
    happen(sqlite_world, 5)
    happen(other, 5)
    second = deliver_webhooks(ctx)
    assert (second.sent, second.failed) == (5, 0)  # the failing ones are backing off
    assert hooks.hits["ok"] == 10
    assert hooks.hits["slow"] == 6
    with ctx.uow(Scope.system("test")) as uow:
        assert {d.success for d in uow.webhooks.deliveries(healthy, 100)} == {True}
