"""Converting trials to paid orders."""

from __future__ import annotations

from trialhub.services.conversion.convert import convert_trial
from trialhub.services.conversion.orders import decide_request, get_order, list_orders

__all__ = ["convert_trial", "decide_request", "get_order", "list_orders"]
