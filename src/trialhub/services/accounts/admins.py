"""Use cases of the trials team and partner full administrators: partners, admins, tokens."""

from __future__ import annotations

from trialhub.domain.accounts import Admin, Distributor, Partner
from trialhub.domain.errors import ErrorCollector, Forbidden, NotFound
from trialhub.domain.ids import new_id
from trialhub.domain.roles import PARTNER_ROLES, Action, Role, may_grant
from trialhub.domain.rules import collect_email
from trialhub.services.accounts.schemas import AdminView, CreateAdmin, CreatePartner, PartnerView
from trialhub.services.accounts.views import admin_view, partner_view
from trialhub.services.kernel.actor import Actor, require_operator, require_partner
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.security import hash_password


def create_partner(ctx: Context, actor: Actor, cmd: CreatePartner) -> PartnerView:
    """The trials team registers a partner organization (tier, certification, distributor)."""
    require_operator(actor)
    now = ctx.now()
    errors = ErrorCollector()
    if cmd.tier == 2 and not (cmd.distributor_id or cmd.distributor_name):
        errors.add("distributor_id", "A tier-2 partner needs a distributor.", "V1")
    with ctx.uow(actor.scope) as uow:
        distributor_id = cmd.distributor_id
        if distributor_id and uow.partners.get_distributor(distributor_id) is None:
            errors.add("distributor_id", "No such distributor.")
        errors.raise_if_any()
        if distributor_id is None and cmd.distributor_name:
            distributor = Distributor(id=new_id("dst"), name=cmd.distributor_name, created_at=now)
            uow.partners.add_distributor(distributor)
            distributor.record_event("distributor.created", now, name=distributor.name)
            distributor_id = distributor.id
        partner = Partner(
            id=new_id("ptn"),
            name=cmd.name,
            tier=cmd.tier,
            certified=cmd.certified,
            distributor_id=distributor_id,
            created_at=now,
        )
        uow.partners.add(partner)
        partner.record_event(
            "partner.created",
            now,
            name=partner.name,
            tier=partner.tier,
            certified=partner.certified,
        )
        uow.commit()
        return partner_view(partner)


def create_admin(ctx: Context, actor: Actor, partner_id: str | None, cmd: CreateAdmin) -> AdminView:
    """An operator creates any administrator; a partner full administrator, its own (rule P2)."""
    now = ctx.now()
    errors = ErrorCollector()
    email = collect_email(cmd.email, errors)
    roles = _roles(cmd.roles, errors)
    if not actor.is_operator:
        _require_may_grant(actor, partner_id, roles)
    _check_roles_fit(partner_id, roles, cmd.distributor_id, errors)
    with ctx.uow(actor.scope) as uow:
        if partner_id is not None and uow.partners.get(partner_id) is None:
            raise NotFound("No such partner.", rule="P3")
        if cmd.distributor_id and uow.partners.get_distributor(cmd.distributor_id) is None:
            errors.add("distributor_id", "No such distributor.", "V1")
        if email and uow.admins.get_by_email(email) is not None:
            errors.add("email", "An administrator with that email already exists.")
        errors.raise_if_any()
        admin = Admin(
            id=new_id("adm"),
            email=email,
            name=cmd.name,
            roles=[r.value for r in roles],
            partner_id=partner_id,
            distributor_id=cmd.distributor_id,
            password_hash=hash_password(cmd.password) if cmd.password else None,
            created_at=now,
        )
        uow.admins.add(admin)
        admin.record_event("admin.created", now, email=email, roles=admin.roles)
        uow.commit()
        return admin_view(admin)


def _roles(raw_roles: list[str], errors: ErrorCollector) -> list[Role]:
    """The roles named, each known (rule P2)."""
    roles: list[Role] = []
    for i, raw in enumerate(raw_roles):
        try:
            roles.append(Role(raw))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            errors.add(f"roles[{i}]", f"Unknown role {raw!r}; one of: {known}.", "P2")
    return roles


def _require_may_grant(actor: Actor, partner_id: str | None, roles: list[Role]) -> None:
    """Rule P2: a partner full administrator creates administrators of its own partner only,
    with partner roles whose rights it holds itself."""
    if partner_id is None:
        raise Forbidden("Only the trials team creates operators and distributors.", rule="P2")
    require_partner(actor, Action.MANAGE_ADMINS)
    if partner_id != actor.partner_id:
        raise NotFound("No such partner.", rule="P3")
    if any(r not in PARTNER_ROLES for r in roles):
        raise Forbidden("Partner administrators can grant only partner roles.", rule="P2")
    withheld = [r.value for r in roles if not may_grant(actor.roles, r)]
    if withheld:
        raise Forbidden(
            "You can grant only roles whose rights you hold yourself, not "
            + ", ".join(withheld)
            + ".",
            field="roles",
            rule="P2",
        )


def _check_roles_fit(
    partner_id: str | None, roles: list[Role], distributor_id: str | None, errors: ErrorCollector
) -> None:
    """Rules P2, V1: partner roles belong to a partner's administrators, the distributor role
    to a distributor's."""
    if partner_id is not None and any(r not in PARTNER_ROLES for r in roles):
        errors.add("roles", "An administrator of a partner holds partner roles only.", "P2")
    if partner_id is None and any(r in PARTNER_ROLES for r in roles):
        errors.add("roles", "Partner roles need a partner organization.", "P2")
    if Role.DISTRIBUTOR in roles and not distributor_id:
        errors.add("distributor_id", "A distributor administrator acts for a distributor.", "V1")
    if distributor_id and Role.DISTRIBUTOR not in roles:
        errors.add("distributor_id", "Only the distributor role acts for a distributor.", "V1")
