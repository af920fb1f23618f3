"""Full administrators assign customers to their administrators (rule P2)."""

from __future__ import annotations

from trialhub.domain.errors import NotFound
from trialhub.domain.roles import Action
from trialhub.services.accounts.schemas import AdminView
from trialhub.services.accounts.views import admin_view
from trialhub.services.customers.detail import _customer_detail
from trialhub.services.customers.schemas import CustomerDetail
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_customer


def assign_customer(ctx: Context, actor: Actor, customer_id: str, admin_id: str) -> CustomerDetail:
    """A full administrator assigns a customer to one of its partner's administrators, who
    then manages it even with an own-reach role (rule P2)."""
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = load_customer(uow, customer_id)
        admin = uow.admins.get(admin_id)
        if admin is None or admin.partner_id != customer.partner_id:
            raise NotFound(
                "No such administrator in your partner organization.", field="admin_id", rule="P3"
            )
        customer.assign(admin_id, now)
        uow.commit()
        # the answer comes from this transaction: an idempotent request holds it open until
        # the answer is recorded in it (services/kernel/idempotency.py)
        return _customer_detail(ctx, uow, actor, customer_id)


def assignable_admins(ctx: Context, actor: Actor) -> list[AdminView]:
    """The partner's administrators a full administrator may assign customers to (P2)."""
    require_partner(actor, Action.MANAGE_ADMINS)
    assert actor.partner_id is not None
    with ctx.uow(actor.scope) as uow:
        return [admin_view(a) for a in uow.admins.list_for_partner(actor.partner_id)]


def unassign_customer(
    ctx: Context, actor: Actor, customer_id: str, admin_id: str
) -> CustomerDetail:
    require_partner(actor, Action.MANAGE_ADMINS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        customer = load_customer(uow, customer_id)
        for assignment in customer.unassign(admin_id, now):
            uow.customers.delete_assignment(assignment)
        uow.commit()
        return _customer_detail(ctx, uow, actor, customer_id)
