"""Servers on loopback the tests talk to: the app (uvicorn in a thread), a webhook receiver,
an SMTP server."""

from __future__ import annotations

import email
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from tests.support.apps import app_for
from trialhub.services.kernel.context import Context


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    ctx: Context


_serving: dict[str | None, str] = {}  # a proxy setting -> the URL of its running server


def start_live_server(
    ctx: Context, *, forwarded_allow_ips: str | None = None
) -> Iterator[LiveServer]:
    """uvicorn on a free loopback port, configured as `trialhub serve` does (the app decides
    which proxy to believe), serving `ctx`.

    One server per test process and proxy setting, started at first use and left running:
    it serves the process's app (tests/support/apps.py), which each test points at its own
    context, so a test sees only its database. Starting and stopping uvicorn per test cost
    a quarter of a second each, mostly waiting."""
    app = app_for(ctx, forwarded_allow_ips=forwarded_allow_ips)
    url = _serving.get(forwarded_allow_ips)
    if url is None:
        url = _serving[forwarded_allow_ips] = _serve(app)
    yield LiveServer(url=url, ctx=ctx)


def _serve(app: Any) -> str:
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", proxy_headers=False
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 15
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            try:
                client.get(url + "/healthz")
                return url
            except httpx.HTTPError:
                time.sleep(0.05)
    raise RuntimeError("the live server did not start")


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
        # shutdown() waits for the loop's next poll: 20 ms, not the default half second
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


class Inbox:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def start_smtp(port: int) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, inbox
