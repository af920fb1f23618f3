"""Offers every audit event to the partner's webhook subscribers, in the same transaction
(rules E1, E2). Runs as an after-audit hook of every unit of work."""

from __future__ import annotations

from trialhub.domain.records import AuditEvent, Channel, OutboxMessage
from trialhub.store.uow import UnitOfWork


def fan_out(uow: UnitOfWork, events: list[AuditEvent]) -> None:
    """After-audit hook: one outbox message per subscribed endpoint and event (rule E1)."""
    partners = {e.partner_id for e in events if e.partner_id}
    if not partners:
        return
    endpoints = uow.webhooks.active_of_partners_unscoped(partners)
    for event in events:
        for endpoint in endpoints:
            if endpoint.partner_id != event.partner_id:
                continue
            if "*" not in endpoint.event_types and event.action not in endpoint.event_types:
                continue
            uow.outbox.add(
                OutboxMessage(
                    id=None,
                    channel=Channel.WEBHOOK.value,
                    recipient=endpoint.id,
                    cause=f"event:{event.id}",
                    template=event.action,
                    payload={
                        "type": event.action,
                        "timestamp": event.at.isoformat(),
                        "data": {
                            "event_id": event.id,
                            "subject_type": event.subject_type,
                            "subject_id": event.subject_id,
                            "trial_id": event.trial_id,
                            "org_id": event.org_id,
                            "actor": event.actor_label,
                            "before": event.before,
                            "after": event.after,
                        },
                    },
                    created_at=event.at,
                    available_at=event.at,
                    partner_id=event.partner_id,
                    org_id=event.org_id,
                    trial_id=event.trial_id,
                ),
                new_cause=True,  # the audit event was written by this transaction
            )
