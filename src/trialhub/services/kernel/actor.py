"""The authenticated caller as the services see it, and the role checks of rules P1 and P2."""

from __future__ import annotations

from dataclasses import dataclass

from trialhub.domain.accounts import Admin, Partner
from trialhub.domain.errors import Forbidden, NotCertified, NotFound
from trialhub.domain.organization import Customer
from trialhub.domain.roles import PARTNER_ROLES, WRITE_ACTIONS, Action, Reach, Role, reach
from trialhub.store.credentials import TokenOwner
from trialhub.store.repositories import Scope


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the services see it."""

    admin_id: str
    email: str
    name: str
    roles: frozenset[Role]
    partner_id: str | None = None
    partner_name: str | None = None
    partner_tier: int | None = None
    partner_certified: bool = False
    distributor_id: str | None = None

    @classmethod
    def of(cls, admin: Admin, partner: Partner | None) -> Actor:
        return cls(
            admin_id=admin.id,
            email=admin.email,
            name=admin.name,
            roles=admin.role_set,
            partner_id=admin.partner_id,
            partner_name=partner.name if partner else None,
            partner_tier=partner.tier if partner else None,
            partner_certified=bool(partner and partner.certified),
            distributor_id=admin.distributor_id,
        )

    @classmethod
    def of_token(cls, owner: TokenOwner) -> Actor:
        """The caller a bearer token authenticates, from the token's one row."""
        return cls(
            admin_id=owner.admin_id,
            email=owner.email,
            name=owner.name,
            roles=frozenset(Role(r) for r in owner.roles),
            partner_id=owner.partner_id,
            partner_name=owner.partner_name,
            partner_tier=owner.partner_tier,
            partner_certified=owner.partner_certified,
            distributor_id=owner.distributor_id,
        )

    @property
    def is_operator(self) -> bool:
        return Role.OPERATOR in self.roles

    @property
    def is_distributor(self) -> bool:
        return Role.DISTRIBUTOR in self.roles and self.distributor_id is not None

    @property
    def is_partner_admin(self) -> bool:
        return self.partner_id is not None and bool(self.roles & PARTNER_ROLES)

    @property
    def scope(self) -> Scope:
        return Scope(
            actor_id=self.admin_id,
            actor_label=self.email,
            partner_id=self.partner_id,
            is_operator=self.is_operator,
            distributor_id=self.distributor_id if self.is_distributor else None,
        )


def require_operator(actor: Actor) -> None:
    if not actor.is_operator:
        raise Forbidden("Only the trials team (operator) can do this.", rule="P2")


def require_partner(actor: Actor, action: Action) -> Reach:
    """Rule P2 for the role, then rule P1 for writes. Returns how far the action reaches."""
    if not actor.is_partner_admin:
        raise Forbidden("Only partner administrators can do this.", rule="P2")
    got = reach(actor.roles, action)
    if got is None:
        raise Forbidden(_REFUSALS.get(action, "Your role does not allow this."), rule="P2")
    if action in WRITE_ACTIONS and not actor.partner_certified:
        raise NotCertified(
            "Your partner organization is not certified, so it cannot start or change trials; "
            "it can sign in and read.",
            rule="P1",
        )
    return got


def require_reach(actor: Actor, action: Action, customer: Customer) -> None:
    """An OWN-reach role acts only on customers it provisioned or was assigned (rule P2).

    Customers outside that reach answer 404 like another partner's (rule P3): the caller
    cannot read them either, so their existence is none of its business.
    """
    got = require_partner(actor, action)
    if got is Reach.OWN and not customer.reachable_by(actor.admin_id):
        raise NotFound("No such customer.", rule="P3")


_REFUSALS: dict[Action, str] = {
    Action.START_TRIAL: "Starting a trial needs the sales or sales full administrator role.",
    Action.EDIT_TRIAL: "Your role cannot change trials.",
    Action.CONVERT: "Your role cannot convert trials.",
    Action.MANAGE_ADMINS: "Managing administrators needs a full administrator role.",
    Action.READ_CUSTOMERS: "Your role cannot read customers.",
}
