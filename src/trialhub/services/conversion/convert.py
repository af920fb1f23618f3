"""Converting a trial to a paid order (rules V1-V5).

A tier-1 partner converts itself; a tier-2 partner files a request that its distributor
processes or declines. The order names a provisioning contact (V2) and lists the services it
buys; the trial's other services are lost, with confirmation (V3). Conversion happens while
the trial is active or in grace (V4): the ordered services become purchased services of the
organization, managed by the partner, and the trial ends as `converted` (V5); its pending
deadlines go in the same transaction (rule T10, through the schedule hook)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.conversion import (
    Contacts,
    ConversionOrder,
    ConversionPath,
    OrderStatus,
    conversion_path,
)
from trialhub.domain.errors import Forbidden, NotFound
from trialhub.domain.roles import Action
from trialhub.domain.trial import Trial
from trialhub.services.conversion.schemas import (
    ConvertTrial,
    OrderView,
)
from trialhub.services.conversion.views import order_view
from trialhub.services.customers.organizations import join_managing_partner
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_trial
from trialhub.services.messaging.audience import managing_admin_emails
from trialhub.services.messaging.outbox import queue_trial_email
from trialhub.services.trials.creation import org_of
from trialhub.store.uow import UnitOfWork


def convert_trial(ctx: Context, actor: Actor, trial_id: str, cmd: ConvertTrial) -> OrderView:
    """Rule V1: tier 1 (or the distributor) converts at once; tier 2 files a request."""
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        trial, path = _trial_and_path(uow, actor, trial_id)
        partner = uow.partners.get(trial.partner_id)
        order = ConversionOrder.file(
            trial,
            ctx.catalog,
            lines=cmd.services,
            provisioning_email=cmd.provisioning_email,
            contacts=Contacts(
                partner_admin_emails={
                    a.email for a in uow.admins.list_for_partner(trial.partner_id)
                },
                customer_admin_emails=org_of(uow, trial.org_id).admin_emails(),
            ),
            confirm_new_organization=cmd.confirm_new_organization,
            confirm_lost_services=cmd.confirm_lost_services,
            path=path,
            one_waiting=bool(uow.orders.listed(status=OrderStatus.REQUESTED, trial_id=trial.id)),
            by_distributor=actor.is_distributor,
            distributor_id=partner.distributor_id if partner else None,
            by=actor.admin_id,
            at=now,
        )
        uow.orders.add(order)
        if path is ConversionPath.DIRECT:
            complete(ctx, uow, trial, order, actor, now)
        else:
            _tell_distributor(uow, trial, order, partner.name if partner else "", now)
        uow.commit()
        return order_view(ctx, order)


def _trial_and_path(uow: UnitOfWork, actor: Actor, trial_id: str) -> tuple[Trial, ConversionPath]:
    """Rule V1: the distributor reaches the trials of the partners it serves and converts
    them; a partner administrator converts by its tier."""
    if actor.is_distributor:
        trial = uow.trials.get(trial_id)  # scoped to the partners it serves
        if trial is None:
            raise NotFound("No such trial.", rule="P3")
        return trial, ConversionPath.DIRECT
    if actor.is_partner_admin:
        trial = load_trial(uow, actor, trial_id, Action.CONVERT)
        return trial, conversion_path(actor.partner_tier or 0)
    raise Forbidden(
        "Trials are converted by their partner (tier 1) or its distributor (tier 2).",
        rule="V1",
    )


def complete(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    order: ConversionOrder,
    actor: Actor,
    at: datetime,
    *,
    note: str | None = None,
) -> None:
    """Rule V5: the order completes (a distributor's processing, with its `note`, checks the
    request again); the organization joins the partner's list (rule A1), and its
    administrators and the partner's are told."""
    org = org_of(uow, trial.org_id)
    order.complete(trial, org, ctx.policy, ctx.catalog, by=actor.admin_id, at=at, note=note)
    # rule A1: the partner now manages a service of the organization, which stays its customer
    join_managing_partner(uow, trial.partner_id, org, at)
    payload = _payload(uow, trial, order)
    cause = f"converted:{trial.id}"
    for admin in org.admins:
        queue_trial_email(uow, order, "trial_converted", admin.email, cause, at, payload)
    customer = uow.customers.get(trial.customer_id, include_removed=True)
    if customer is not None:
        partner_payload = {**payload, "audience": "partner"}
        for email in managing_admin_emails(uow, customer):
            queue_trial_email(uow, order, "trial_converted", email, cause, at, partner_payload)


def _tell_distributor(
    uow: UnitOfWork, trial: Trial, order: ConversionOrder, partner: str, at: datetime
) -> None:
    if order.distributor_id is None:
        return
    payload = {**_payload(uow, trial, order), "partner": partner}
    for admin in uow.admins.of_distributor_unscoped(order.distributor_id):
        queue_trial_email(
            uow, order, "conversion_requested", admin.email, f"requested:{order.id}", at, payload
        )


def _payload(uow: UnitOfWork, trial: Trial, order: ConversionOrder) -> dict[str, object]:
    org = uow.organizations.get(trial.org_id)
    partner = uow.partners.get(trial.partner_id)
    return {
        "organization": org.name if org else "",
        "org_id": trial.org_id,
        "partner": partner.name if partner else "",
        "order_id": order.id,
        "services": order.service_codes,
        "lost_services": order.lost_services,
        "provisioning_email": order.provisioning_email,
        "audience": "customer",
    }
