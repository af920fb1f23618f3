"""Customer organizations and each partner's customer list."""

from __future__ import annotations

from trialhub.services.customers.assignments import assign_customer, unassign_customer
from trialhub.services.customers.detail import get_customer, list_events
from trialhub.services.customers.listing import list_customers
from trialhub.services.customers.users import set_up_user

__all__ = [
    "assign_customer",
    "get_customer",
    "list_customers",
    "list_events",
    "set_up_user",
    "unassign_customer",
]
