"""What the use cases need from the outside world; adapters in `trialhub.notify` provide it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class DeliveryError(Exception):
    """A message could not be delivered now; the outbox retries it later with backoff."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Email:
    """One email ready to go. `message_id` is stable per recipient and cause (rule E2)."""

    to: str
    subject: str
    text: str
    html: str
    message_id: str
    headers: dict[str, str] = field(default_factory=dict)


class EmailRenderer(Protocol):
    """Turns a template name and its payload into subject, plain text and HTML."""

    def render(
        self, template: str, payload: dict[str, Any], *, recipient: str
    ) -> RenderedEmail: ...


class Mailer(Protocol):
    """Sends one email or raises DeliveryError."""

    def send(self, email: Email) -> None: ...


@dataclass(frozen=True)
class WebhookRequest:
    """One signed POST (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature)."""

    endpoint_id: str
    url: str
    secret: str
    message_id: str
    timestamp: int
    body: str


@dataclass(frozen=True)
class WebhookResult:
    success: bool
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class WebhookSender(Protocol):
    """Delivers one webhook request and reports what happened (never raises)."""

    def send(self, request: WebhookRequest) -> WebhookResult: ...
