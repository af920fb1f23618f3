"""Device shipments, returns, demo orders and device extensions."""

from __future__ import annotations

from trialhub.services.devices.extensions import (
    decide_extension_request,
    list_extension_requests,
    request_extension,
)
from trialhub.services.devices.lookups import find_demo_orders
from trialhub.services.devices.orders import get_shipment, list_shipments, order_shipment
from trialhub.services.devices.shipping import (
    dispatch_shipment,
    record_return,
    request_return_label,
)

__all__ = [
    "decide_extension_request",
    "dispatch_shipment",
    "find_demo_orders",
    "get_shipment",
    "list_extension_requests",
    "list_shipments",
    "order_shipment",
    "record_return",
    "request_extension",
    "request_return_label",
]
