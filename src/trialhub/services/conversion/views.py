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
    """The order as it is, with each line named from the catalog."""
    names = ctx.catalog.services
    lines = [
        OrderLineView(code=code, name=names[code].name if code in names else code, quantity=n)
        for code, n in order.quantities.items()
    ]
    same = {field: getattr(order, field) for field in OrderView.model_fields if field != "services"}
    return OrderView.model_validate({**same, "services": lines})
