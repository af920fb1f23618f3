"""Full administrators assign customers to their administrators (rule P2)."""

from __future__ import annotations

from datetime import datetime

from trialhub.domain.errors import NotFound
from trialhub.domain.events import DomainEvent
from trialhub.domain.model import Customer, CustomerAssignment, new_id
from trialhub.domain.roles import Action
from trialhub.services.customers.detail import _customer_detail
from trialhub.services.customers.schemas import (
    CustomerDetail,
)
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context


def assign_customer(ctx: Context, actor: Actor, customer_id: str, admin_id: str) -> CustomerDetail:
    """A full administrator assigns a customer to one of its partner's administrators, who
    then manages it even with an own-reach role (rule P2)."""
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("No such customer.", rule="P3")
        admin = uow.admins.get(admin_id)
        if admin is None or admin.partner_id != customer.partner_id:
            raise NotFound(
                "No such administrator in your partner organization.", field="admin_id", rule="P3"
            )
        if not any(a.admin_id == admin_id for a in customer.assignments):
            customer.assignments.append(
                CustomerAssignment(
                    id=new_id("asg"), customer_id=customer.id, admin_id=admin_id, created_at=now
                )
            )
            customer.record(_assignment_event("customer.assigned", customer, admin_id, now))
        uow.commit()
        # the answer comes from this transaction: an idempotent request holds it open until
        # the answer is recorded in it (services/idempotency.py)
        return _customer_detail(ctx, uow, actor, customer_id)


def unassign_customer(
    ctx: Context, actor: Actor, customer_id: str, admin_id: str
) -> CustomerDetail:
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("No such customer.", rule="P3")
        for assignment in list(customer.assignments):
            if assignment.admin_id == admin_id:
                customer.assignments.remove(assignment)
                uow.session.delete(assignment)
                customer.record(_assignment_event("customer.unassigned", customer, admin_id, now))
        uow.commit()
        return _customer_detail(ctx, uow, actor, customer_id)


def _assignment_event(action: str, customer: Customer, admin_id: str, at: datetime) -> DomainEvent:
    return DomainEvent(
        action=action,
        subject_type="customer",
        subject_id=customer.id,
        at=at,
        after={"admin_id": admin_id},
        partner_id=customer.partner_id,
        org_id=customer.org_id,
    )
