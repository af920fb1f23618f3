"""The webhook lane: endpoints served concurrently (a bounded pool), each endpoint's messages
one after another, with per-endpoint backoff, a circuit breaker, and disabling after days of
failure (domain/webhook_health.py; rules E1, E2).

A pass plans in one short transaction (which endpoints may go, how many of their messages),
then every endpoint runs in the pool: lease one message, send it outside any transaction,
record the outcome with the endpoint's health, and stop at the endpoint's first failure."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from trialhub.domain import webhook_health as health
from trialhub.domain.records import Channel, WebhookDelivery
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.ports import WebhookRequest, WebhookResult
from trialhub.services.messaging.delivery import LEASE, SCOPE, DeliveryReport, Snapshot, record
from trialhub.services.messaging.webhooks import disable_failing
from trialhub.store.uow import UnitOfWork

log = logging.getLogger("trialhub.delivery")


WEBHOOK = Channel.WEBHOOK.value


GONE = "not sent: the webhook endpoint was deleted or disabled"


def deliver_webhooks(ctx: Context, *, batch: int = 200, max_batches: int = 20) -> DeliveryReport:
    """Sends what is due to every endpoint that may be tried now, `webhook_concurrency`
    requests at a time at most."""
    report = DeliveryReport()
    if ctx.webhook_sender is None:
        return report
    workers = max(1, ctx.policy.webhook_concurrency)
    with ThreadPoolExecutor(workers, thread_name_prefix="trialhub-webhooks") as pool:
        for _ in range(max_batches):
            plan, seen = _plan(ctx, batch, report)
            futures = [pool.submit(_run_endpoint, ctx, ids) for ids in plan]
            for future in futures:
                report.add(future.result())
            if seen < batch or not plan:
                break
    return report


def _plan(ctx: Context, batch: int, report: DeliveryReport) -> tuple[list[list[int]], int]:
    """Which messages go in this pass, grouped by endpoint, healthy endpoints first.
    Messages of an endpoint backing off are pushed to its retry instant; those of a deleted
    or disabled endpoint are given up."""
    now = ctx.now()
    with ctx.uow(SCOPE) as uow:
        # no row locks: each message is leased on its own below, and this transaction
        # updates rows by endpoint, which locks taken here would deadlock on
        due = uow.outbox.due_for_worker(now, batch, WEBHOOK, lock=False)
        by_endpoint: dict[str, list[int]] = defaultdict(list)
        for outbox_id, endpoint_id in due:
            by_endpoint[endpoint_id].append(outbox_id)
        plan: list[tuple[int, list[int]]] = []
        for endpoint_id, ids in by_endpoint.items():
            endpoint = uow.webhooks.get(endpoint_id)
            if endpoint is None or endpoint.disabled_at is not None:
                report.skipped += uow.outbox.give_up(WEBHOOK, endpoint_id, now, GONE)
                continue
            allowed = health.allowed_now(endpoint, now, ctx.policy)
            if allowed == 0 and endpoint.retry_at is not None:
                uow.outbox.postpone(WEBHOOK, endpoint_id, endpoint.retry_at)
            elif allowed:
                plan.append((endpoint.failures, ids[:allowed]))
        uow.commit()
    plan.sort(key=lambda p: p[0])  # a failing endpoint's slow answer should hold up no one
    return [ids for _, ids in plan], len(due)


def _run_endpoint(ctx: Context, ids: list[int]) -> DeliveryReport:
    """One endpoint's messages in order; its first failure ends its turn (backoff)."""
    report = DeliveryReport()
    for outbox_id in ids:
        claimed = _claim(ctx, outbox_id)
        if claimed is None:
            report.skipped += 1
            continue
        snapshot, url, secret = claimed
        result = _send(ctx, snapshot, url, secret)
        error = None if result.success else (result.error or f"HTTP {result.status_code}")
        record(ctx, outbox_id, error, report, also=_health(ctx, snapshot, result))
        if error is not None:
            break
    return report


def _claim(ctx: Context, outbox_id: int) -> tuple[Snapshot, str, str] | None:
    now = ctx.now()
    with ctx.uow(SCOPE) as uow:
        if not uow.outbox.lease(outbox_id, now, now + LEASE):
            return None  # sent meanwhile, or another sender holds it
        message = uow.outbox.get_for_worker(outbox_id)
        assert message is not None
        endpoint = uow.webhooks.get(message.recipient)
        if endpoint is None or endpoint.disabled_at is not None:
            uow.outbox.mark_sent(outbox_id, now, GONE)
            uow.commit()
            return None
        claimed = (Snapshot.of(message), endpoint.url, endpoint.secret)
        uow.commit()
        return claimed


def _send(ctx: Context, m: Snapshot, url: str, secret: str) -> WebhookResult:
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


def _health(
    ctx: Context, m: Snapshot, result: WebhookResult
) -> Callable[[UnitOfWork, datetime], None]:
    """What the attempt's transaction records besides the message: the delivery log and
    the endpoint's health (backoff, circuit, disabling)."""

    def apply(uow: UnitOfWork, now: datetime) -> None:
        uow.webhooks.add_delivery(
            WebhookDelivery(
                id=None,
                outbox_id=m.id,
                endpoint_id=m.recipient,
                attempted_at=now,
                success=result.success,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                error=result.error,
            )
        )
        endpoint = uow.webhooks.for_delivery_for_worker(m.recipient)
        if endpoint is None:
            return
        if result.success:
            health.record_success(endpoint)
        elif health.record_failure(endpoint, now, ctx.policy):
            disable_failing(uow, endpoint, now)
        elif endpoint.retry_at is not None:
            uow.outbox.postpone(WEBHOOK, endpoint.id, endpoint.retry_at)

    return apply
