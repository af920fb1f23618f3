"""Queues emails in the outbox, inside the transaction of the change that causes them (E2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel

from trialhub.domain.records import Channel
from trialhub.services.kernel.actor import Actor, require_operator
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.views import view_of
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
    secret: str | None = None,
    new_cause: bool = False,
) -> bool:
    """One email per recipient and cause; a repeated cause queues nothing (rule E2).
    `secret` is a credential the email carries, kept only until it is sent. `new_cause`:
    the cause names something this transaction created, so no earlier row can repeat it."""
    fields: dict[str, object] = {
        "channel": Channel.EMAIL.value,
        "recipient": recipient,
        "cause": cause,
        "template": template,
        "payload": payload,
        "created_at": now,
        "available_at": now,
        "partner_id": partner_id,
        "org_id": org_id,
        "trial_id": trial_id,
        "secret": secret,
    }
    return uow.outbox.add_fields(fields, new_cause=new_cause)


class OfTrial(Protocol):
    """Anything that belongs to one trial: the trial itself, a shipment, a request, an order."""

    @property
    def partner_id(self) -> str: ...

    @property
    def org_id(self) -> str: ...

    @property
    def trial_id(self) -> str: ...


def queue_trial_email(
    uow: UnitOfWork,
    about: OfTrial,
    template: str,
    recipient: str,
    cause: str,
    at: datetime,
    payload: Mapping[str, Any],
    *,
    new_cause: bool = False,
) -> bool:
    """An email about a trial (or one of its parts), filed under its partner, organization
    and trial so that each sees it in its outbox and timeline."""
    return queue_email(
        uow,
        template=template,
        recipient=recipient,
        cause=cause,
        payload=dict(payload),
        now=at,
        partner_id=about.partner_id,
        org_id=about.org_id,
        trial_id=about.trial_id,
        new_cause=new_cause,
    )


class MessageView(BaseModel):
    id: int
    channel: str
    recipient: str
    template: str
    cause: str
    payload: dict[str, Any]
    created_at: datetime
    sent_at: datetime | None = None
    attempts: int
    last_error: str | None = None


def list_messages(ctx: Context, actor: Actor, *, limit: int = 200) -> list[MessageView]:
    """The queued and sent messages, newest last (the operator's view of the outbox)."""
    require_operator(actor)
    with ctx.uow(actor.scope) as uow:
        return [view_of(MessageView, m, id=m.id or 0) for m in uow.outbox.all(limit=limit)]
