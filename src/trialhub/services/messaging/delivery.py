"""Delivers the outbox in two lanes, emails and webhooks, so that an email never waits
behind a slow webhook; at least once, with retries and backoff (rule E2).

Each message is leased (locked_until) in its own short transaction, sent outside any
transaction, and marked sent in a transaction right after the receiver accepted it, before
anything else (an SMTP connection's QUIT comes after the mark). A sender killed in between
leaves a lease that runs out, and that one message goes again: at-least-once, with a stable
Message-ID / webhook-id per recipient and cause so that receivers can drop the repeat."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from trialhub.domain.policy import backoff  # shared with the deadlines (rules E2, T10)
from trialhub.domain.records import Channel, OutboxMessage
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.ports import DeliveryError, Email
from trialhub.services.messaging.links import link_for_sending, reset_link_for_sending
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork

log = logging.getLogger("trialhub.delivery")


LEASE = timedelta(minutes=2)


SCOPE = Scope.system("delivery")


# what an email needs at send time that its payload must not keep (decision 0010): None
# means the email must not go (its consent link no longer works)
Prepare = Callable[[UnitOfWork, OutboxMessage, datetime], dict[str, object] | None]


_PREPARE: dict[str, Prepare] = {
    "consent_request": link_for_sending,
    "password_reset": reset_link_for_sending,
}


NOT_SENT_LINK = "not sent: the consent link was used, cancelled or expired before it went"
NOT_SENT_RESET = "not sent: the reset link was used, replaced or expired before it went"


def message_id(message: OutboxMessage) -> str:
    """Stable per channel, recipient and cause: a receiver can recognise a repeat."""
    digest = hashlib.sha256(
        f"{message.channel}|{message.recipient}|{message.cause}".encode()
    ).hexdigest()[:32]
    return f"<{digest}@trialhub>" if message.channel == Channel.EMAIL else f"msg_{digest}"


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    skipped: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.skipped += other.skipped


@dataclass(frozen=True)
class Snapshot:
    """What a send needs, read in the lease's transaction and used outside any."""

    id: int
    channel: str
    recipient: str
    template: str
    payload: dict[str, object]
    message_id: str
    created_at: datetime

    @classmethod
    def of(cls, m: OutboxMessage, extra: dict[str, object] | None = None) -> Snapshot:
        return cls(
            id=m.id or 0,
            channel=m.channel,
            recipient=m.recipient,
            template=m.template,
            payload={**m.payload, **(extra or {})},
            message_id=message_id(m),
            created_at=m.created_at,
        )


def deliver(ctx: Context, *, batch: int = 50, max_batches: int = 100) -> DeliveryReport:
    """One pass of both lanes, emails first (the worker runs them in separate threads)."""
    from trialhub.services.messaging.webhook_lane import deliver_webhooks

    report = deliver_emails(ctx, max_messages=batch * max_batches)
    report.add(deliver_webhooks(ctx))
    return report


def deliver_emails(ctx: Context, *, max_messages: int = 5000) -> DeliveryReport:
    """The email lane: one message at a time, leased, sent, and marked sent at once."""
    report = DeliveryReport()
    if ctx.mailer is None or ctx.renderer is None:
        return report
    try:
        for _ in range(max_messages):
            claimed = claim_next_email(ctx)
            if claimed is None:
                break
            if isinstance(claimed, Snapshot):
                record(ctx, claimed.id, _send_email(ctx, claimed), report)
            else:
                report.skipped += 1
    finally:
        if isinstance(ctx.mailer, Closing):
            ctx.mailer.close()  # after every sent mark is committed (rule E2)
    return report


@runtime_checkable
class Closing(Protocol):
    """A mailer that keeps its connection open across a pass (SMTP: QUIT at the end)."""

    def close(self) -> None: ...


def claim_next_email(ctx: Context) -> Snapshot | bool | None:
    """Leases the oldest due email: its snapshot; False if it must not go (given up here);
    None when no email is due."""
    now = ctx.now()
    with ctx.uow(SCOPE) as uow:
        due = uow.outbox.due_for_worker(now, 1, Channel.EMAIL.value)
        if not due:
            return None
        outbox_id = due[0][0]
        if not uow.outbox.lease(outbox_id, now, now + LEASE):
            uow.rollback()
            return False  # another sender took it between the two statements
        message = uow.outbox.get_for_worker(outbox_id)
        assert message is not None
        extra: dict[str, object] | None = {}
        if message.template in _PREPARE:
            extra = _PREPARE[message.template](uow, message, now)
        if extra is None:
            note = NOT_SENT_RESET if message.template == "password_reset" else NOT_SENT_LINK
            uow.outbox.mark_sent(outbox_id, now, note)
            uow.commit()
            return False
        snapshot = Snapshot.of(message, extra)
        uow.commit()
        return snapshot


def _send_email(ctx: Context, m: Snapshot) -> str | None:
    assert ctx.renderer is not None
    assert ctx.mailer is not None
    try:
        rendered = ctx.renderer.render(m.template, m.payload, recipient=m.recipient)
        ctx.mailer.send(
            Email(
                to=m.recipient,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=m.message_id,
                headers={"X-Trialhub-Template": m.template},
            )
        )
    except DeliveryError as error:
        return str(error) or type(error).__name__
    except Exception as error:  # a template or adapter bug must not lose the message
        log.exception("email %s to %s failed", m.template, m.recipient)
        return type(error).__name__  # never the text: it could quote the payload
    return None


def record(
    ctx: Context,
    outbox_id: int,
    error: str | None,
    report: DeliveryReport,
    also: Callable[[UnitOfWork, datetime], None] | None = None,
) -> None:
    """Right after the attempt, in its own transaction: sent (secret erased), or
    rescheduled with backoff. `also` adds what the lane records with it."""
    now = ctx.now()
    with ctx.uow(SCOPE) as uow:
        if also is not None:
            also(uow, now)
        if error is None:
            uow.outbox.mark_sent(outbox_id, now)
            report.sent += 1
        else:
            message = uow.outbox.get_for_worker(outbox_id)
            assert message is not None
            message.locked_until = None
            message.attempts += 1
            message.last_error = error[:2000]
            message.available_at = max(message.available_at, now + backoff(message.attempts))
            report.failed += 1
            log.warning(
                "%s to %s failed (attempt %d): %s",
                message.template,
                message.recipient,
                message.attempts,
                error,
            )
        uow.commit()
