"""Delivers webhooks signed the Standard Webhooks way (webhook-id, -timestamp, -signature),
only to public addresses: the name is resolved here, every address checked, and the
connection made to the checked address (so DNS rebinding cannot slip in between)."""

from __future__ import annotations

import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from trialhub.services.kernel.ports import WebhookRequest, WebhookResult
from trialhub.services.messaging.destinations import IPAddress, address_refused, literal_address

log = logging.getLogger("trialhub.webhooks")

# what the delivery log says: never the OS error, nor which port answered (no port scanner)
REFUSED = "destination refused or unreachable"
NO_RESPONSE = "no response in time"
FAILED = "the request failed"

Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives for a name (the port picks TCP entries)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class Refused(Exception):
    """The destination is not one webhooks may reach (private, reserved, unresolvable)."""


def signature_headers(request: WebhookRequest) -> dict[str, str]:
    signature = Webhook(request.secret).sign(
        request.message_id, datetime.fromtimestamp(request.timestamp, tz=UTC), request.body
    )
    return {
        "webhook-id": request.message_id,
        "webhook-timestamp": str(request.timestamp),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": "trialhub-webhooks/1",
    }


class HttpWebhookSender:
    """POSTs one signed request; `resolver` is a port so that tests need no real DNS."""

    def __init__(
        self,
        timeout: float = 10,
        *,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.timeout = timeout
        self.allow_loopback = allow_loopback
        self.resolver = resolver
        self.verify = verify  # the public CAs; a test passes its own

    def send(self, request: WebhookRequest) -> WebhookResult:
        """POSTs once; 2xx is success, anything else (redirects too) a failure to retry."""
        started = time.monotonic()
        try:
            status = self._post(request, started)
        except Exception as error:
            # the port promises never to raise: one raising message would stop the whole
            # delivery pass on every tick (rule E2). The partner sees a generic error; the
            # operator's log keeps the detail.
            log.info("webhook %s to %s failed: %r", request.message_id, request.endpoint_id, error)
            return WebhookResult(
                success=False, duration_ms=_elapsed(started), error=_generic(error)
            )
        ok = 200 <= status < 300
        return WebhookResult(
            success=ok,
            duration_ms=_elapsed(started),
            status_code=status,
            error=None if ok else f"HTTP {status}",
        )

    def _post(self, request: WebhookRequest, started: float) -> int:
        url = httpx.URL(request.url)
        if url.scheme not in ("http", "https"):
            raise Refused(f"scheme {url.scheme!r}")
        name = url.raw_host.decode("ascii")
        literal = literal_address(name)
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = [literal] if literal is not None else self._resolve(name, port)
        self._check(name, addresses)
        headers = {**signature_headers(request), "host": url.netloc.decode("ascii")}
        # TLS checks the certificate against the name, while the socket goes to the address
        extensions = {"sni_hostname": name} if url.scheme == "https" and literal is None else {}
        last: Exception = Refused("no address")
        for address in addresses:
            if time.monotonic() - started > self.timeout:
                break
            try:
                return self._post_to(url.copy_with(host=str(address)), request, headers, extensions)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                last = error  # the next address of the name, as a browser would
        raise last

    def _post_to(
        self,
        pinned: httpx.URL,
        request: WebhookRequest,
        headers: dict[str, str],
        extensions: dict[str, str],
    ) -> int:
        # a client per request, never shared: a pooled connection verified for one name must
        # not carry another name's request to the same address
        with (
            httpx.Client(
                timeout=self.timeout, follow_redirects=False, trust_env=False, verify=self.verify
            ) as client,
            # streamed and never read: only the status matters, and a receiver must not make
            # the worker hold a large body in memory
            client.stream(
                "POST",
                pinned,
                content=request.body.encode(),
                headers=headers,
                extensions=extensions,
            ) as response,
        ):
            return response.status_code

    def _resolve(self, name: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(name, port)]
        except (OSError, UnicodeError, ValueError) as error:
            raise Refused(f"{name} does not resolve: {error}") from error

    def _check(self, name: str, addresses: list[IPAddress]) -> None:
        """Every address the name stands for must be allowed, else Refused."""
        if not addresses:
            raise Refused(f"{name} has no address")
        refused = [a for a in addresses if address_refused(a, allow_loopback=self.allow_loopback)]
        if refused:  # one inside address is enough: the name is not trustworthy
            raise Refused(f"{name} resolves to {refused[0]}")


def _generic(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException) and not isinstance(error, httpx.ConnectTimeout):
        return NO_RESPONSE
    if isinstance(error, httpx.TransportError) and not isinstance(
        error, httpx.ConnectError | httpx.ConnectTimeout | httpx.UnsupportedProtocol
    ):
        return FAILED  # connected, then the exchange broke (protocol error, reset)
    # refused by the checks, unresolvable, not accepting connections, no TLS, or a URL no
    # client can use: all one answer, so that the log cannot map ports or networks
    return REFUSED


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
