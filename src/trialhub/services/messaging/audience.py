"""Who hears about a customer's trial on the partner side (rules T4, D7, P2)."""

from __future__ import annotations

import functools
from typing import Protocol

from trialhub.domain.roles import Action, Reach, Role, reach
from trialhub.store.uow import UnitOfWork


class Managed(Protocol):
    """A customer, or a trial read as values (`TrialFacts`): whose it is, and whom it
    reaches with OWN reach (rule P2)."""

    @property
    def partner_id(self) -> str: ...

    def reachable_by(self, admin_id: str) -> bool: ...


def managing_admin_emails(uow: UnitOfWork, customer: Managed) -> list[str]:
    """Every partner administrator who manages the customer (rules T4, P2): roles that reach
    all customers, and own-reach roles that provisioned it or were assigned it."""
    out = []
    for admin in uow.admins.list_for_partner(customer.partner_id):
        if admin.disabled_at is not None:
            continue
        got = _edit_reach(tuple(admin.roles))
        if got is Reach.ALL or (got is Reach.OWN and customer.reachable_by(admin.id)):
            out.append(admin.email)
    return sorted(out)


@functools.lru_cache(maxsize=256)
def _edit_reach(roles: tuple[str, ...]) -> Reach | None:
    """How far these stored roles edit trials: the worker asks it for every administrator
    of a partner at every notice (issue 11), and there are few sets of roles."""
    return reach(frozenset(Role(r) for r in roles), Action.EDIT_TRIAL)
