"""Emails and webhooks: the outbox, delivery lanes, subscriptions, fan-out, the local mailbox."""

from __future__ import annotations

from trialhub.services.messaging.delivery import DeliveryReport, deliver, deliver_emails
from trialhub.services.messaging.fanout import fan_out
from trialhub.services.messaging.mailbox import get_mail, list_mailbox, require_served
from trialhub.services.messaging.outbox import list_messages
from trialhub.services.messaging.webhook_lane import deliver_webhooks
from trialhub.services.messaging.webhooks import (
    create_endpoint,
    delete_endpoint,
    enable_endpoint,
    list_deliveries,
    list_endpoints,
)

__all__ = [
    "DeliveryReport",
    "create_endpoint",
    "delete_endpoint",
    "deliver",
    "deliver_emails",
    "deliver_webhooks",
    "enable_endpoint",
    "fan_out",
    "get_mail",
    "list_deliveries",
    "list_endpoints",
    "list_mailbox",
    "list_messages",
    "require_served",
]
