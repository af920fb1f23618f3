"""The HTTP webhook sender against a real receiver on loopback: requests verify with the
reference Standard Webhooks library, and every failure is reported, never raised (rule E2)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.conftest import World, free_port
from trialhub.clock import MovableClock
from trialhub.domain.events import DomainEvent
from trialhub.domain.ids import new_id
from trialhub.domain.records import WebhookEndpoint
from trialhub.notify.webhooks import NO_RESPONSE, REFUSED, HttpWebhookSender
from trialhub.services.kernel.ports import WebhookRequest
from trialhub.services.messaging import delivery
from trialhub.services.messaging.webhooks import CreateWebhook, create_endpoint, new_secret
from trialhub.store.repositories import Scope


class Receiver:
    """A real HTTP server on 127.0.0.1 that records each POST and answers as told."""

    def __init__(self) -> None:
        self.status = 200
        self.extra_headers: dict[str, str] = {}
        self.endless_body = False  # claim a huge body, send a little, then stall
        self.delay = 0.0  # seconds before answering
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)
                self.send_response(receiver.status)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                if receiver.endless_body:
                    self.send_header("content-length", str(10**9))
                    self.end_headers()
                    self.wfile.write(b"x" * 1024)
                    self.wfile.flush()
                    time.sleep(3)
                    return
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def _request(url: str, secret: str, body: str = '{"type":"trial.expired"}') -> WebhookRequest:
    # a real-time timestamp: verify() refuses one more than 5 minutes off the wall clock
    return WebhookRequest("whk_1", url, secret, "msg_abc", int(time.time()), body)


def test_the_received_request_verifies(receiver: Receiver) -> None:
    secret = new_secret()  # the secret as trialhub generates it
    body = json.dumps({"type": "trial.expired", "data": {"trial_id": "trl_1"}})
    result = HttpWebhookSender(allow_loopback=True).send(_request(receiver.url, secret, body))
    assert (result.success, result.status_code, result.error) == (True, 200, None)
    assert result.duration_ms >= 0
    ((headers, raw),) = receiver.requests
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == "msg_abc"
    assert raw.decode() == body
    assert Webhook(secret).verify(raw, headers) == json.loads(body)


def test_tampering_fails_verification(receiver: Receiver) -> None:
    secret = new_secret()
    HttpWebhookSender(allow_loopback=True).send(_request(receiver.url, secret))
    ((headers, raw),) = receiver.requests
    tampered_body = raw.replace(b"expired", b"extended")
    for body, hdrs, key in (
        (tampered_body, headers, secret),
        (raw, {**headers, "webhook-id": "msg_other"}, secret),
        (raw, {**headers, "webhook-timestamp": str(int(time.time()) + 1)}, secret),
        (raw, headers, new_secret()),
    ):
        with pytest.raises(WebhookVerificationError):
            Webhook(key).verify(body, hdrs)


@pytest.mark.parametrize("status", [500, 503, 404, 410])
def test_an_error_status_is_a_failure(receiver: Receiver, status: int) -> None:
    receiver.status = status
    got = HttpWebhookSender(allow_loopback=True).send(_request(receiver.url, new_secret()))
    assert (got.success, got.status_code, got.error) == (False, status, f"HTTP {status}")


def test_a_redirect_is_a_failure_and_not_followed(receiver: Receiver) -> None:
    receiver.status = 302
    receiver.extra_headers = {"location": receiver.url + "/elsewhere"}
    got = HttpWebhookSender(allow_loopback=True).send(_request(receiver.url, new_secret()))
    assert (got.success, got.status_code) == (False, 302)
    assert len(receiver.requests) == 1


def test_the_response_body_is_not_read(receiver: Receiver) -> None:
    receiver.endless_body = True  # reading it would stall until the read timeout
    started = time.monotonic()
    got = HttpWebhookSender(timeout=2, allow_loopback=True).send(
        _request(receiver.url, new_secret())
    )
    assert got.success
    assert time.monotonic() - started < 1.5


def test_a_refused_connection_is_a_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/hook"  # nobody listens there
    got = HttpWebhookSender(timeout=2, allow_loopback=True).send(_request(url, new_secret()))
    assert got.success is False
    assert got.status_code is None
    assert got.error == REFUSED  # not the OS error, which would map ports (item 3)


@pytest.mark.parametrize(
    "url", ["https://a..b/hook", "http://[::1/hook", "http://127.0.0.1:99999/", "not a url"]
)
def test_a_url_httpx_cannot_use_is_a_failure_not_an_exception(url: str) -> None:
    got = HttpWebhookSender(timeout=2, allow_loopback=True).send(_request(url, new_secret()))
    assert got.success is False
    assert got.error


def test_a_broken_endpoint_does_not_stop_the_others(
    sqlite_world: World, receiver: Receiver, clock: MovableClock
) -> None:
    """An endpoint stored before URLs were checked (`https://a..b/` made httpx raise and the
    whole delivery pass with it) fails alone; the healthy endpoint still gets its message."""
    ctx, pid = sqlite_world.ctx, sqlite_world.partner_id
    good = create_endpoint(
        ctx, sqlite_world.sales_full.actor, CreateWebhook(url=receiver.url, event_types=["*"])
    )
    now = ctx.now()
    with ctx.uow(Scope.system("test")) as uow:
        broken = WebhookEndpoint(
            id=new_id("whk"),
            partner_id=pid,
            url="https://a..b/hook",
            secret=new_secret(),
            event_types=["trial.expired"],
            created_at=now,
        )
        uow.webhooks.add(broken)
        uow.record(
            DomainEvent(
                action="trial.expired",
                subject_type="trial",
                subject_id="trl_x",
                at=now + timedelta(seconds=1),
                partner_id=pid,
                trial_id="trl_x",
            )
        )
        uow.commit()
        broken_id = broken.id
    ctx.webhook_sender = HttpWebhookSender(timeout=2, allow_loopback=True)
    clock.advance(timedelta(seconds=1))
    report = delivery.deliver(ctx)
    assert (report.sent, report.failed) == (2, 1)  # webhook.created and trial.expired; broken
    assert sorted(json.loads(raw)["type"] for _, raw in receiver.requests) == [
        "trial.expired",
        "webhook.created",
    ]
    with ctx.uow(Scope.system("test")) as uow:
        (attempt,) = uow.webhooks.deliveries(broken_id, 10)
        assert (attempt.success, attempt.status_code) == (False, None)
        assert attempt.error == REFUSED
        assert [d.success for d in uow.webhooks.deliveries(good.id, 10)] == [True, True]


# ---- issue 8 item 3: the resolved address is checked at send time and connected to ------


class FakeDns:
    """The resolver port: answers from a table, counts lookups; no real DNS in tests."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.answers[host]


@pytest.mark.parametrize(
    "inside",
    [
        ["127.0.0.1"],  # this machine, with loopback not allowed (production)
        ["169.254.169.254"],  # cloud metadata
        ["10.0.0.7"],
        ["::ffff:169.254.169.254"],
        ["64:ff9b::a9fe:a9fe"],  # NAT64
        ["93.184.215.14", "169.254.169.254"],  # one inside address is enough
    ],
)
def test_a_public_name_that_resolves_inside_is_refused_at_send_time(
    receiver: Receiver, inside: list[str]
) -> None:
    dns = FakeDns({"hooks.partner.example": inside})
    url = f"http://hooks.partner.example:{receiver.port}/hook"
    got = HttpWebhookSender(timeout=2, resolver=dns).send(_request(url, new_secret()))
    assert (got.success, got.status_code, got.error) == (False, None, REFUSED)
    assert receiver.requests == []
    assert dns.lookups == ["hooks.partner.example"]


def test_an_unresolvable_name_gets_the_same_generic_error() -> None:
    got = HttpWebhookSender(timeout=2, resolver=FakeDns({})).send(
        _request("https://nowhere.partner.example/hook", new_secret())
    )
    assert (got.success, got.error) == (False, REFUSED)


def test_the_request_goes_to_the_checked_address_under_its_name(receiver: Receiver) -> None:
    """The name is resolved once, by trialhub, and the socket goes to that address: a
    second lookup (DNS rebinding) would answer the metadata address instead."""
    answers = iter([["127.0.0.1"], ["169.254.169.254"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    url = f"http://hooks.partner.example:{receiver.port}/hook"
    got = HttpWebhookSender(timeout=2, allow_loopback=True, resolver=rebinding).send(
        _request(url, new_secret())
    )
    assert (got.success, got.status_code) == (True, 200)
    assert lookups == ["hooks.partner.example"]
    ((headers, _),) = receiver.requests
    assert headers["host"] == f"hooks.partner.example:{receiver.port}"


def test_a_slow_receiver_is_no_response_in_time(receiver: Receiver) -> None:
    receiver.delay = 2.0
    got = HttpWebhookSender(timeout=0.5, allow_loopback=True).send(
        _request(receiver.url, new_secret())
    )
    assert (got.success, got.status_code, got.error) == (False, None, NO_RESPONSE)


def test_tls_checks_the_certificate_against_the_name_not_the_address() -> None:
    """https to a pinned address still sends the name (SNI) and verifies the certificate
    for it; a certificate for another name fails like any unreachable destination."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.partner.example").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    tls = Receiver()
    tls.server.socket = server_ctx.wrap_socket(tls.server.socket, server_side=True)
    tls.thread.start()
    try:
        dns = FakeDns({"hooks.partner.example": ["127.0.0.1"], "other.example": ["127.0.0.1"]})
        sender = HttpWebhookSender(timeout=2, allow_loopback=True, resolver=dns, verify=client_ctx)
        good = sender.send(_request(f"https://hooks.partner.example:{tls.port}/h", new_secret()))
        assert (good.success, good.status_code) == (True, 200)
        bad = sender.send(_request(f"https://other.example:{tls.port}/h", new_secret()))
        assert (bad.success, bad.error) == (False, REFUSED)
        assert len(tls.requests) == 1
    finally:
        tls.server.shutdown()
        tls.server.server_close()
