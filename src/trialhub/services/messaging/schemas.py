"""What webhook subscriptions take and show (rules E1, E2): the API, the CLI and the use
cases share them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from trialhub.services.kernel.fields import Rule, Text
from trialhub.services.kernel.schemas import Command, View

MAX_EVENT_TYPES = 50


class CreateWebhook(Command):
    """A subscription to audit events (rule E1), delivered signed through the outbox (E2)."""

    url: str = Field(max_length=2000, description="https:// (http:// only for loopback)")
    event_types: Annotated[list[str], Rule("E1")] = Field(
        min_length=1,
        max_length=MAX_EVENT_TYPES,
        description="Event actions such as trial.expired, or * for all",
    )
    description: Text | None = Field(default=None, max_length=200)


class WebhookView(View):
    id: str
    url: str
    event_types: list[str]
    description: str | None = None
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = Field(
        default=None, description="deleted, or failing (disabled after days of failures)"
    )
    failing_since: datetime | None = Field(
        default=None, description="Every attempt since then failed"
    )
    retry_at: datetime | None = Field(
        default=None, description="Backing off: no attempt before this instant"
    )
    secret: str | None = Field(default=None, description="Shown once, at creation")


class DeliveryView(View):
    """One attempt to deliver one message to the endpoint (the delivery log, rule E2)."""

    id: int
    outbox_id: int
    attempted_at: datetime
    success: bool
    status_code: int | None = Field(
        default=None, description="The receiver's HTTP status; none when it did not answer"
    )
    error: str | None = None
    duration_ms: int
