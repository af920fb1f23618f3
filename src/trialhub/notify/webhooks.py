"""Delivers webhooks signed the Standard Webhooks way (webhook-id, -timestamp, -signature)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from standardwebhooks.webhooks import Webhook

from trialhub.services.ports import WebhookRequest, WebhookResult


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
    def __init__(self, timeout: float = 10) -> None:
        self.timeout = timeout

    def send(self, request: WebhookRequest) -> WebhookResult:
        """POSTs once; 2xx is success, anything else (redirects too) a failure to retry."""
        started = time.monotonic()
        try:
            # streamed and never read: only the status matters, and a receiver must not make
            # the worker hold a large body in memory
            with httpx.stream(
                "POST",
                request.url,
                content=request.body.encode(),
                headers=signature_headers(request),
                timeout=self.timeout,
                follow_redirects=False,
            ) as response:
                status = response.status_code
        except Exception as error:
            # the port promises never to raise: besides httpx.HTTPError, httpx.InvalidURL and
            # UnicodeError (a host IDNA cannot encode) escape httpx, and one raising message
            # would stop the whole delivery batch on every tick (rule E2)
            elapsed = int((time.monotonic() - started) * 1000)
            return WebhookResult(
                success=False, duration_ms=elapsed, error=f"{type(error).__name__}: {error}"[:500]
            )
        elapsed = int((time.monotonic() - started) * 1000)
        ok = 200 <= status < 300
        return WebhookResult(
            success=ok,
            duration_ms=elapsed,
            status_code=status,
            error=None if ok else f"HTTP {status}",
        )
