"""Setting up users on the customer's behalf, with full-admin access only (rule K3)."""

from __future__ import annotations

from trialhub.domain.errors import ErrorCollector, Forbidden
from trialhub.domain.organization import AccessLevel
from trialhub.domain.roles import Action
from trialhub.domain.rules import collect_email
from trialhub.services.customers.schemas import OrganizationView, SetUpUser
from trialhub.services.customers.views import organization_view
from trialhub.services.kernel.actor import Actor, require_reach
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.reach import load_customer
from trialhub.services.trials.creation import org_of


def set_up_user(ctx: Context, actor: Actor, customer_id: str, cmd: SetUpUser) -> OrganizationView:
    """Setting up users on the customer's behalf needs full-admin access (rule K3)."""
    now = ctx.now()
    errors = ErrorCollector()
    email = collect_email(cmd.email, errors)
    with ctx.uow(actor.scope) as uow:
        customer = load_customer(uow, customer_id)
        require_reach(actor, Action.EDIT_TRIAL, customer)
        if customer.access != AccessLevel.FULL:
            raise Forbidden(
                "The customer gave you provisioning administrator access only: you can "
                "provision its trial services, but not manage its users and licenses. Ask its "
                "full administrator for full administrator access.",
                rule="K3",
                code="provisioning_admin_only",
            )
        if email and (
            uow.organizations.user_by_email(email) or uow.organizations.admin_by_email(email)
        ):
            errors.add("email", "That email already belongs to an organization.")
        errors.raise_if_any()
        org = org_of(uow, customer.org_id)
        org.add_user(email, cmd.name, now)
        customer.record_event("customer.user_added", now, email=email)
        uow.commit()
        return organization_view(ctx.catalog, org, uow)
