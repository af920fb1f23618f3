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
    ConversionOrder,
    ConversionPath,
    OrderStatus,
    check_convertible,
    check_losses_confirmed,
    check_provisioning_email,
    conversion_path,
    lost_services,
)
from trialhub.domain.errors import (
    Conflict,
    ErrorCollector,
    Forbidden,
    NotFound,
)
from trialhub.domain.model import Subscription, Trial, new_id
from trialhub.domain.roles import Action
from trialhub.domain.rules import normalize_email
from trialhub.domain.states import TrialStatus
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
        if actor.is_distributor:
            trial = uow.trials.get(trial_id)  # scoped to the partners it serves
            if trial is None:
                raise NotFound("No such trial.", rule="P3")
            path = ConversionPath.DIRECT
        elif actor.is_partner_admin:
            trial = load_trial(uow, actor, trial_id, Action.CONVERT)
            path = conversion_path(actor.partner_tier or 0)
        else:
            raise Forbidden(
                "Trials are converted by their partner (tier 1) or its distributor (tier 2).",
                rule="V1",
            )
        lines, lost, new_org = _check_order(ctx, uow, trial, cmd)
        if uow.orders.listed(status=OrderStatus.REQUESTED, trial_id=trial.id):
            raise Conflict(
                "A conversion request for this trial already waits for the distributor"
                + (": process it instead." if actor.is_distributor else "."),
                rule="V1",
            )
        partner = uow.partners.get(trial.partner_id)
        order = ConversionOrder(
            id=new_id("ord"),
            trial_id=trial.id,
            partner_id=trial.partner_id,
            org_id=trial.org_id,
            services=lines,
            provisioning_email=normalize_email(cmd.provisioning_email),
            path=path.value,
            status=OrderStatus.REQUESTED.value,
            created_at=now,
            created_by_admin_id=actor.admin_id,
            distributor_id=partner.distributor_id if partner else None,
            new_organization_confirmed=new_org,
            lost_services=lost,
        )
        uow.orders.add(order)
        order.record_event(
            "order.created",
            now,
            path=order.path,
            services=order.services,
            lost_services=lost,
            provisioning_email=order.provisioning_email,
            new_organization=new_org,
        )
        if path is ConversionPath.DIRECT:
            _complete(ctx, uow, trial, order, actor, now)
        else:
            _tell_distributor(uow, trial, order, partner.name if partner else "", now)
        uow.commit()
        return order_view(ctx, order)


def _check_order(
    ctx: Context, uow: UnitOfWork, trial: Trial, cmd: ConvertTrial
) -> tuple[list[dict[str, object]], list[str], bool]:
    """Rules V2-V4 on the order; returns its lines, the services lost and whether a new
    organization is intended. Raises with every problem; writes nothing."""
    check_convertible(TrialStatus(trial.status))
    errors = ErrorCollector()
    held = {s.service: s for s in trial.open_services()}
    lines: list[dict[str, object]] = []
    seen: set[str] = set()
    for i, line in enumerate(cmd.services):
        if line.code in seen:
            errors.add(f"services[{i}].code", f"{line.code!r} is ordered twice.", "V3")
            continue
        seen.add(line.code)
        held_service = held.get(line.code)
        definition = ctx.catalog.services.get(line.code)
        if held_service is None or definition is None:
            errors.add(
                f"services[{i}].code",
                f"{line.code!r} is not a service of this trial; only trial services convert.",
                "V5",
            )
            continue
        default = (
            trial.user_licenses if definition.license_kind == "user" else held_service.quantity
        )
        quantity = line.quantity if line.quantity is not None else default
        if not definition.min_quantity <= quantity <= definition.max_quantity:
            errors.add(
                f"services[{i}].quantity",
                f"{definition.name}: {definition.min_quantity} to {definition.max_quantity} "
                "licenses.",
                "S1",
            )
        lines.append({"service": line.code, "quantity": quantity})
    try:
        email = normalize_email(cmd.provisioning_email)
    except ValueError as error:
        errors.add("provisioning_email", str(error), "V2")
        email = ""
    errors.raise_if_any()
    org = org_of(uow, trial.org_id)
    new_org = check_provisioning_email(
        email,
        partner_admin_emails={a.email for a in uow.admins.list_for_partner(trial.partner_id)},
        customer_admin_emails={a.email for a in org.admins},
        confirm_new_organization=cmd.confirm_new_organization,
    )
    lost = lost_services(list(held), [str(line["service"]) for line in lines])
    check_losses_confirmed(lost, confirmed=cmd.confirm_lost_services)
    return lines, lost, new_org


def _complete(
    ctx: Context,
    uow: UnitOfWork,
    trial: Trial,
    order: ConversionOrder,
    actor: Actor,
    at: datetime,
) -> None:
    """Rule V5: the ordered services become purchased services of the organization, managed
    by the partner; the trial ends as converted. Lost services are released like a deletion's
    (the Meetings site name; Calling numbers after 15 days)."""
    org = org_of(uow, trial.org_id)
    purchased = org.purchased_services()
    for line in order.services:
        code = str(line["service"])
        if code in purchased:  # pragma: no cover - rule S3 keeps purchased services out
            raise Conflict(f"The organization already bought {code}.", rule="S3")
        subscription = Subscription(
            id=new_id("sub"),
            org_id=org.id,
            service=code,
            quantity=int(str(line["quantity"])),
            started_at=at,
            partner_id=trial.partner_id,
        )
        uow.orders.add_subscription(subscription)
    # rule A1: the partner now manages a service of the organization, which stays its customer
    join_managing_partner(uow, trial.partner_id, org, at)
    trial.convert(at, ctx.policy, ctx.catalog, lost=order.lost_services)
    order.status = OrderStatus.COMPLETED.value
    order.processed_at = at
    order.processed_by_admin_id = actor.admin_id
    order.record_event(
        "order.completed", at, services=order.services, lost_services=order.lost_services
    )
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
