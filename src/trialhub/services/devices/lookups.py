"""Demo orders found by organization and admin email or serial number (rule D9)."""

from __future__ import annotations

from trialhub.domain.devices import (
    normalize_serial,
)
from trialhub.domain.errors import (
    ValidationFailed,
)
from trialhub.domain.roles import Action
from trialhub.domain.rules import normalize_email
from trialhub.services.devices.loading import _in_reach
from trialhub.services.devices.schemas import (
    ShipmentView,
)
from trialhub.services.devices.views import shipment_view
from trialhub.services.kernel.actor import Actor, require_partner
from trialhub.services.kernel.context import Context


def find_demo_orders(
    ctx: Context,
    actor: Actor,
    *,
    org_id: str,
    admin_email: str | None = None,
    serial: str | None = None,
) -> list[ShipmentView]:
    """Rule D9: a demo order is found by organization id plus either the customer
    administrator's email or a trialed device's serial number."""
    if (admin_email is None) == (serial is None):
        raise ValidationFailed(
            "Give the organization id with either admin_email or serial.",
            field="admin_email",
            rule="D9",
        )
    if not actor.is_operator:
        require_partner(actor, Action.READ_CUSTOMERS)
    now = ctx.now()
    with ctx.uow(actor.scope) as uow:
        org = uow.organizations.get(org_id)
        if org is None:
            return []
        if admin_email is not None:
            try:
                wanted = normalize_email(admin_email)
            except ValueError as error:
                raise ValidationFailed(str(error), field="admin_email", rule="D9") from error
            if wanted not in {a.email for a in org.admins}:
                return []
            found = uow.shipments.find_demo_orders(org.id)
        else:
            assert serial is not None
            found = uow.shipments.find_demo_orders(org.id, serial=normalize_serial(serial))
        return [shipment_view(ctx, s, now) for s in found if _in_reach(uow, actor, s)]
