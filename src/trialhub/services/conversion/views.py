"""The view of a conversion order."""

from __future__ import annotations

from trialhub.domain.conversion import (
    ConversionOrder,
)
from trialhub.services.conversion.schemas import (
    OrderLineView,
    OrderView,
)
from trialhub.services.kernel.context import Context


def order_view(ctx: Context, order: ConversionOrder) -> OrderView:
    services = ctx.catalog.services
    return OrderView(
        id=order.id,
        trial_id=order.trial_id,
        org_id=order.org_id,
        partner_id=order.partner_id,
        status=order.status,
        path=order.path,
        services=[
            OrderLineView(
                code=str(line["service"]),
                name=services[str(line["service"])].name
                if str(line["service"]) in services
                else str(line["service"]),
                quantity=int(str(line["quantity"])),
            )
            for line in order.services
        ],
        provisioning_email=order.provisioning_email,
        new_organization_confirmed=order.new_organization_confirmed,
        lost_services=list(order.lost_services),
        created_at=order.created_at,
        created_by_admin_id=order.created_by_admin_id,
        distributor_id=order.distributor_id,
        processed_at=order.processed_at,
        note=order.note,
    )
