"""Webhook subscriptions of a partner, and the fan-out of audit events to them (rule E1).

Messages go through the outbox like emails (rule E2): written in the transaction of the
change, delivered signed with retries, every attempt in the delivery log."""

from __future__ import annotations

import base64
import re
import secrets
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from trialhub.domain import webhook_health as health
from trialhub.domain.errors import Conflict, ErrorCollector, NotFound
from trialhub.domain.ids import new_id
from trialhub.domain.records import Channel, WebhookEndpoint
from trialhub.domain.roles import Action, reach
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.views import view_of
from trialhub.services.messaging.destinations import (
    IPAddress,
    NotAnAddress,
    address_refused,
    effective_address,
    literal_address,
)
from trialhub.services.messaging.outbox import queue_email
from trialhub.services.messaging.schemas import CreateWebhook, DeliveryView, WebhookView
from trialhub.store.uow import UnitOfWork

# an action name as the audit log writes it: trial.expired, customer.consented, trial.notice_7d
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)+")


_DNS_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _view(e: WebhookEndpoint, *, secret: str | None = None) -> WebhookView:
    # the secret is shown once, at creation: never read from the endpoint
    return view_of(WebhookView, e, secret=secret)


def new_secret() -> str:
    """Standard Webhooks style: `whsec_` and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create_endpoint(ctx: Context, actor: Actor, cmd: CreateWebhook) -> WebhookView:
    require_partner(actor, Action.MANAGE_ADMINS)
    assert actor.partner_id is not None
    errors = ErrorCollector()
    problem = url_problem(cmd.url.strip(), allow_loopback=ctx.webhook_allow_loopback)
    if problem is not None:
        errors.add("url", problem, "E3")
    for i, kind in enumerate(cmd.event_types):
        if kind != "*" and (len(kind) > 80 or not _EVENT_TYPE.fullmatch(kind)):
            errors.add(f"event_types[{i}]", "Give an event action like trial.expired, or *.")
    errors.raise_if_any()
    now = ctx.now()
    secret = new_secret()
    with ctx.uow(actor.scope) as uow:
        endpoint = WebhookEndpoint(
            id=new_id("whk"),
            partner_id=actor.partner_id,
            url=cmd.url.strip(),
            secret=secret,
            event_types=sorted(set(cmd.event_types)),
            description=cmd.description,
            created_by_admin_id=actor.admin_id,
            created_at=now,
        )
        uow.webhooks.add(endpoint)
        _record(endpoint, "webhook.created", now, url=endpoint.url)
        uow.commit()
        return _view(endpoint, secret=secret)


def url_problem(url: str, *, allow_loopback: bool = False) -> str | None:
    """Why a webhook URL is refused, or None. Checked here, at the door, so that no stored
    endpoint is one the sender can never reach (rule E3: bad input is a 422, never a 500).
    The sender checks the resolved address again at send time (DNS can change)."""
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        return "A URL has no spaces or control characters."
    try:  # urlsplit raises ValueError on a broken [IPv6] host, .port on a bad port
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "Give an absolute https:// URL."
    if parts.scheme not in ("https", "http") or not host:
        return "Give an absolute https:// URL."
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return "The port must be a number between 1 and 65535."
    try:
        address = literal_address(host)
    except NotAnAddress:
        return "The host is not a valid domain name or IP address."
    if address is None and not _valid_host(host):
        return "The host is not a valid domain name or IP address."
    if parts.username is not None or parts.password is not None:
        # they would be stored and listed in clear; the signature authenticates trialhub
        return "Put no user name or password in the URL; verify the signature instead."
    loopback = host == "localhost" or (address is not None and _is_loopback(address))
    if loopback and not allow_loopback:
        return "The URL points at this machine; use a public address."
    if address is not None and address_refused(address, allow_loopback=allow_loopback):
        # no requests into private networks or cloud metadata services (SSRF), in whatever
        # notation the address is written (2852039166 is 169.254.169.254)
        return "The URL points into a private or reserved network; use a public address."
    if parts.scheme == "http" and not loopback:
        # a signed payload still leaks trial data in clear over http, so only to this machine
        return "Webhooks go over https:// (http:// only to this machine)."
    return None


def _is_loopback(address: IPAddress) -> bool:
    return effective_address(address).is_loopback


def _valid_host(host: str) -> bool:
    try:  # internationalized names are sent as their IDNA (punycode) form
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.removesuffix(".").split(".")
    return len(ascii_host) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


def _own(uow: UnitOfWork, actor: Actor, endpoint_id: str) -> WebhookEndpoint:
    endpoint = uow.webhooks.get(endpoint_id)
    if endpoint is None or endpoint.partner_id != actor.partner_id:
        raise NotFound("No such webhook.", rule="P3")
    return endpoint


def list_endpoints(ctx: Context, actor: Actor) -> list[WebhookView]:
    require_partner(actor, Action.MANAGE_ADMINS)
    assert actor.partner_id is not None
    with ctx.uow(actor.scope) as uow:
        return [_view(e) for e in uow.webhooks.of_partner(actor.partner_id)]


def delete_endpoint(ctx: Context, actor: Actor, endpoint_id: str) -> WebhookView:
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        endpoint = _own(uow, actor, endpoint_id)
        if endpoint.disabled_reason != health.DISABLED_DELETED:
            endpoint.disabled_at = now
            endpoint.disabled_reason = health.DISABLED_DELETED
            _record(endpoint, "webhook.deleted", now)
        uow.commit()
        return _view(endpoint)


def enable_endpoint(ctx: Context, actor: Actor, endpoint_id: str) -> WebhookView:
    """Re-enables an endpoint disabled after failing for days; a deleted one stays deleted."""
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        endpoint = _own(uow, actor, endpoint_id)
        if endpoint.disabled_reason == health.DISABLED_DELETED:
            raise Conflict(
                "A deleted webhook cannot be enabled again; create a new one.",
                code="webhook_deleted",
            )
        if endpoint.disabled_at is not None:
            health.reset(endpoint)
            _record(endpoint, "webhook.enabled", now)
        uow.commit()
        return _view(endpoint)


def disable_failing(uow: UnitOfWork, endpoint: WebhookEndpoint, now: datetime) -> None:
    """An endpoint that failed for days stops getting messages (its pending ones are given
    up; GET /v1/events catches up), and its full administrators are told (rule E2)."""
    endpoint.disabled_at = now
    endpoint.disabled_reason = health.DISABLED_FAILING
    since = endpoint.failing_since or now
    _record(endpoint, "webhook.disabled", now, failing_since=since.isoformat())
    uow.outbox.give_up(
        Channel.WEBHOOK.value, endpoint.id, now, "not sent: the endpoint was disabled"
    )
    partner = uow.partners.get(endpoint.partner_id)
    for admin in uow.admins.list_for_partner(endpoint.partner_id):
        if admin.disabled_at is not None or reach(admin.role_set, Action.MANAGE_ADMINS) is None:
            continue
        queue_email(
            uow,
            template="webhook_disabled",
            recipient=admin.email,
            cause=f"webhook_disabled:{endpoint.id}:{now.isoformat()}",
            payload={
                "partner": partner.name if partner else "",
                "endpoint_id": endpoint.id,
                "url": endpoint.url,
                "failing_since": since.isoformat(),
            },
            now=now,
            partner_id=endpoint.partner_id,
        )


def list_deliveries(
    ctx: Context, actor: Actor, endpoint_id: str, *, limit: int = 100
) -> list[DeliveryView]:
    require_partner(actor, Action.MANAGE_ADMINS)
    with ctx.uow(actor.scope) as uow:
        _own(uow, actor, endpoint_id)
        return [DeliveryView.model_validate(d) for d in uow.webhooks.deliveries(endpoint_id, limit)]


def _record(endpoint: WebhookEndpoint, action: str, at: datetime, **after: Any) -> None:
    endpoint.record_event(action, at, event_types=list(endpoint.event_types), **after)
