"""Queues emails in the outbox, inside the transaction of the change that causes them (E2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from trialhub.domain.model import Channel, OutboxMessage
from trialhub.store.uow import UnitOfWork


def queue_email(
    uow: UnitOfWork,
    *,
    template: str,
    recipient: str,
    cause: str,
    payload: dict[str, Any],
    now: datetime,
    partner_id: str | None = None,
    org_id: str | None = None,
    trial_id: str | None = None,
) -> bool:
    """One email per recipient and cause; a repeated cause queues nothing (rule E2)."""
    return uow.outbox.add(
        OutboxMessage(
            id=None,
            channel=Channel.EMAIL.value,
            recipient=recipient,
            cause=cause,
            template=template,
            payload=payload,
            created_at=now,
            available_at=now,
            partner_id=partner_id,
            org_id=org_id,
            trial_id=trial_id,
        )
    )
