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
from trialhub.services.kernel.views import service_name, view_of


def order_view(ctx: Context, order: ConversionOrder) -> OrderView:
    """The order as it is, with each line named from the catalog."""
    lines = [
        OrderLineView(code=code, name=service_name(ctx.catalog, code), quantity=n)
        for code, n in order.quantities.items()
    ]
    return view_of(OrderView, order, services=lines)
