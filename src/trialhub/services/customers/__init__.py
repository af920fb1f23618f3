"""Customer organizations and each partner's customer list."""

from __future__ import annotations

from trialhub.services.customers.activity import ACTIVITY_KINDS, activity
from trialhub.services.customers.assignments import (
    assign_customer,
    assignable_admins,
    unassign_customer,
)
from trialhub.services.customers.detail import get_customer, list_events
from trialhub.services.customers.listing import list_customers
from trialhub.services.customers.organizations import (
    add_org_admin,
    add_org_user,
    add_subscription,
    create_organization,
    get_organization,
)
from trialhub.services.customers.sort_keys import refresh_customer_keys
from trialhub.services.customers.users import set_up_user

__all__ = [
    "ACTIVITY_KINDS",
    "activity",
    "add_org_admin",
    "add_org_user",
    "add_subscription",
    "assign_customer",
    "assignable_admins",
    "create_organization",
    "get_customer",
    "get_organization",
    "list_customers",
    "list_events",
    "refresh_customer_keys",
    "set_up_user",
    "unassign_customer",
]
