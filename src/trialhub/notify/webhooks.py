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
        started = time.monotonic()
        try:
            response = httpx.post(
                request.url,
                content=request.body.encode(),
                headers=signature_headers(request),
                timeout=self.timeout,
                follow_redirects=False,
            )
        except httpx.HTTPError as error:
            elapsed = int((time.monotonic() - started) * 1000)
            return WebhookResult(
                success=False, duration_ms=elapsed, error=f"{type(error).__name__}: {error}"
            )
        elapsed = int((time.monotonic() - started) * 1000)
        ok = 200 <= response.status_code < 300
        return WebhookResult(
            success=ok,
            duration_ms=elapsed,
            status_code=response.status_code,
            error=None if ok else f"HTTP {response.status_code}",
        )
