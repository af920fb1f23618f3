"""Offers every audit event to the partner's webhook subscribers, in the same transaction
(rules E1, E2). Runs as an after-audit hook of every unit of work."""

from __future__ import annotations

from typing import Any

from trialhub.domain.records import Channel
from trialhub.store.uow import UnitOfWork, WrittenEvent


def fan_out(uow: UnitOfWork, events: list[WrittenEvent]) -> None:
    """After-audit hook: one outbox message per subscribed endpoint and event (rule E1),
    written in one statement. Each names its new audit event, so none can repeat (E2)."""
    partners = {e.event.partner_id for e in events if e.event.partner_id}
    if not partners:
        return
    endpoints = uow.webhooks.subscriptions_of_partners_unscoped(partners)
    if not endpoints:
        return
    messages: list[dict[str, Any]] = []
    for written in events:
        event = written.event
        for endpoint in endpoints:
            if endpoint.partner_id != event.partner_id:
                continue
            if "*" not in endpoint.event_types and event.action not in endpoint.event_types:
                continue
            messages.append(_message(endpoint.endpoint_id, written))
    uow.outbox.add_new_rows(messages)


def _message(endpoint_id: str, written: WrittenEvent) -> dict[str, Any]:
    event = written.event
    return {
        "channel": Channel.WEBHOOK.value,
        "recipient": endpoint_id,
        "cause": f"event:{written.id}",
        "template": event.action,
        "payload": {
            "type": event.action,
            "timestamp": event.at.isoformat(),
            "data": {
                "event_id": written.id,
                "subject_type": event.subject_type,
                "subject_id": event.subject_id,
                "trial_id": event.trial_id,
                "org_id": event.org_id,
                "actor": written.actor_label,
                "before": written.before,
                "after": written.after,
            },
        },
        "created_at": event.at,
        "available_at": event.at,
        "partner_id": event.partner_id,
        "org_id": event.org_id,
        "trial_id": event.trial_id,
    }
