"""Delivers the outbox: every email and webhook at least once, with retries and backoff, and
never twice for the same recipient and cause unless a sender died mid-attempt (rule E2).

A message is leased (locked_until) in a short transaction, sent outside any transaction, and
then marked sent, or rescheduled with exponential backoff. A sender that crashes leaves a
lease that runs out, and the message goes again: at-least-once, with a stable Message-ID /
webhook-id so that receivers can drop the rare duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from trialhub.domain.model import Channel, OutboxMessage, WebhookDelivery
from trialhub.domain.policy import backoff  # shared with the deadlines (rules E2, T10)
from trialhub.services.context import Context
from trialhub.services.ports import DeliveryError, Email, WebhookRequest, WebhookResult
from trialhub.store.repositories import Scope

log = logging.getLogger("trialhub.delivery")

LEASE = timedelta(minutes=2)


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


def deliver(ctx: Context, *, batch: int = 50, max_batches: int = 100) -> DeliveryReport:
    """Sends what is due now; failures are rescheduled. Needs the context's adapters."""
    report = DeliveryReport()
    for _ in range(max_batches):
        leased = _lease_batch(ctx, batch)
        for message_id_ in leased:
            _deliver_one(ctx, message_id_, report)
        if len(leased) < batch:
            break
    return report


def _lease_batch(ctx: Context, batch: int) -> list[int]:
    now = ctx.now()
    with ctx.uow(Scope.system("delivery")) as uow:
        leased = []
        for candidate in uow.outbox.due_ids(now, batch):
            if _can_send(ctx, uow.outbox.get(candidate)) and uow.outbox.lease(
                candidate, now, now + LEASE
            ):
                leased.append(candidate)
        uow.commit()
        return leased


def _can_send(ctx: Context, message: OutboxMessage | None) -> bool:
    if message is None:
        return False
    if message.channel == Channel.EMAIL:
        return ctx.mailer is not None and ctx.renderer is not None
    return ctx.webhook_sender is not None


def _deliver_one(ctx: Context, outbox_id: int, report: DeliveryReport) -> None:
    with ctx.uow(Scope.system("delivery")) as uow:
        message = uow.outbox.get(outbox_id)
        if message is None or message.sent_at is not None:
            report.skipped += 1
            return
        snapshot = _Snapshot.of(message)
        endpoint: tuple[str, str] | None = None
        if message.channel == Channel.WEBHOOK:
            found = uow.webhooks.get(message.recipient)
            if found is not None and found.disabled_at is None:
                endpoint = (found.url, found.secret)
    error: str | None = None
    result: WebhookResult | None = None
    if snapshot.channel == Channel.EMAIL:
        error = _send_email(ctx, snapshot)
    elif endpoint is None:
        error = "the webhook endpoint was deleted"
    else:
        result = _send_webhook(ctx, snapshot, *endpoint)
        error = None if result.success else (result.error or f"HTTP {result.status_code}")
    _finish(
        ctx,
        outbox_id,
        error,
        result,
        report,
        drop=endpoint is None and snapshot.channel == Channel.WEBHOOK,
    )


@dataclass(frozen=True)
class _Snapshot:
    id: int
    channel: str
    recipient: str
    template: str
    payload: dict[str, object]
    message_id: str
    created_at: datetime

    @classmethod
    def of(cls, m: OutboxMessage) -> _Snapshot:
        return cls(
            id=m.id or 0,
            channel=m.channel,
            recipient=m.recipient,
            template=m.template,
            payload=dict(m.payload),
            message_id=message_id(m),
            created_at=m.created_at,
        )


def _send_email(ctx: Context, m: _Snapshot) -> str | None:
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
        return f"{type(error).__name__}: {error}"
    return None


def _send_webhook(ctx: Context, m: _Snapshot, url: str, secret: str) -> WebhookResult:
    import json

    assert ctx.webhook_sender is not None
    body = json.dumps(m.payload, separators=(",", ":"), sort_keys=True, default=str)
    return ctx.webhook_sender.send(
        WebhookRequest(
            endpoint_id=m.recipient,
            url=url,
            secret=secret,
            message_id=m.message_id,
            timestamp=int(ctx.wall_clock.now().timestamp()),
            body=body,
        )
    )


def _finish(
    ctx: Context,
    outbox_id: int,
    error: str | None,
    result: WebhookResult | None,
    report: DeliveryReport,
    *,
    drop: bool = False,
) -> None:
    now = ctx.now()
    with ctx.uow(Scope.system("delivery")) as uow:
        message = uow.outbox.get(outbox_id)
        assert message is not None
        if result is not None:  # the delivery log of the endpoint
            uow.webhooks.add_delivery(
                WebhookDelivery(
                    id=None,
                    outbox_id=outbox_id,
                    endpoint_id=message.recipient,
                    attempted_at=now,
                    success=result.success,
                    duration_ms=result.duration_ms,
                    status_code=result.status_code,
                    error=result.error,
                )
            )
        message.locked_until = None
        if error is None or drop:
            message.sent_at = now
            message.last_error = error
            report.sent += 0 if drop else 1
            report.skipped += 1 if drop else 0
        else:
            message.attempts += 1
            message.last_error = error[:2000]
            message.available_at = now + backoff(message.attempts)
            report.failed += 1
            log.warning(
                "%s to %s failed (attempt %d): %s",
                message.template,
                message.recipient,
                message.attempts,
                error,
            )
        uow.commit()
