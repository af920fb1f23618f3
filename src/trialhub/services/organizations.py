"""The trials team's use cases for the world partners meet: existing organizations, their
administrators, users and purchased services."""

from __future__ import annotations

from trialhub.domain.errors import ErrorCollector, NotFound
from trialhub.domain.model import OrgAdmin, Organization, OrgUser, Subscription, new_id
from trialhub.domain.rules import normalize_email
from trialhub.services.accounts import event
from trialhub.services.context import Actor, Context, require_operator
from trialhub.services.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
    OrganizationView,
)
from trialhub.services.views import organization_view
from trialhub.store.uow import UnitOfWork


def create_organization(ctx: Context, actor: Actor, cmd: CreateOrganization) -> OrganizationView:
    """An existing customer organization (or the free consumer organization)."""
    require_operator(actor)
    now = ctx.now()
    errors = ErrorCollector()
    country = cmd.country.strip().upper()
    if country not in ctx.catalog.countries:
        errors.add("country", "Unknown country; use an ISO 3166-1 alpha-2 code.", "C1")
    if cmd.business_vertical is not None and cmd.business_vertical not in ctx.catalog.verticals:
        errors.add("business_vertical", "Unknown business vertical.", "C1")
    errors.raise_if_any()
    with ctx.uow(actor.scope) as uow:
        if cmd.kind == "free" and uow.organizations.free_organization() is not None:
            errors.add("kind", "There is already a free consumer organization.")
            errors.raise_if_any()
        org = Organization(
            id=new_id("org"),
            name=" ".join(cmd.name.split()),
            kind=cmd.kind,
            country=country,
            region=ctx.catalog.countries[country].region,  # rule C2
            business_vertical=cmd.business_vertical,
            created_at=now,
        )
        uow.organizations.add(org)
        org.record(
            event(
                "organization.created",
                "organization",
                org.id,
                now,
                name=org.name,
                region=org.region,
                kind=org.kind,
            )
        )
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def _load(uow: UnitOfWork, org_id: str) -> Organization:
    org = uow.organizations.get(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


def _email(raw: str) -> str:
    errors = ErrorCollector()
    try:
        return normalize_email(raw)
    except ValueError as error:
        errors.add("email", str(error))
        errors.raise_if_any()
        raise


def add_org_admin(ctx: Context, actor: Actor, org_id: str, cmd: AddOrgAdmin) -> OrganizationView:
    """An administrator of an organization; full ones can consent to trials (rule K2)."""
    require_operator(actor)
    now = ctx.now()
    email = _email(cmd.email)
    with ctx.uow(actor.scope) as uow:
        org = _load(uow, org_id)
        _ensure_email_free(uow, email, org_id, allow_own_user=True)
        admin = OrgAdmin(
            id=new_id("oad"),
            org_id=org.id,
            email=email,
            name=cmd.name,
            full=cmd.full,
            created_at=now,
        )
        org.admins.append(admin)
        org.record(
            event(
                "organization.admin_added", "organization", org.id, now, email=email, full=cmd.full
            )
        )
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def add_org_user(ctx: Context, actor: Actor, org_id: str, cmd: AddOrgUser) -> OrganizationView:
    require_operator(actor)
    now = ctx.now()
    email = _email(cmd.email)
    with ctx.uow(actor.scope) as uow:
        org = _load(uow, org_id)
        _ensure_email_free(uow, email, org_id, allow_own_admin=True)
        user = OrgUser(id=new_id("usr"), org_id=org.id, email=email, name=cmd.name, created_at=now)
        org.users.append(user)
        org.record(event("organization.user_added", "organization", org.id, now, email=email))
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def add_subscription(
    ctx: Context, actor: Actor, org_id: str, cmd: AddSubscription
) -> OrganizationView:
    """A purchased service and its managing partner (rules S3, A1)."""
    require_operator(actor)
    now = ctx.now()
    errors = ErrorCollector()
    if cmd.service not in ctx.catalog.services:
        errors.add("service", "Unknown service.", "S1")
    with ctx.uow(actor.scope) as uow:
        org = _load(uow, org_id)
        if cmd.partner_id is not None and uow.partners.get(cmd.partner_id) is None:
            errors.add("partner_id", "No such partner.")
        if cmd.service in org.purchased_services():
            errors.add("service", "The organization already has that service.")
        errors.raise_if_any()
        sub = Subscription(
            id=new_id("sub"),
            org_id=org.id,
            service=cmd.service,
            quantity=cmd.quantity,
            partner_id=cmd.partner_id,
            started_at=now,
        )
        org.subscriptions.append(sub)
        org.record(
            event(
                "organization.subscription_added",
                "organization",
                org.id,
                now,
                service=cmd.service,
                partner_id=cmd.partner_id,
            )
        )
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def get_organization(ctx: Context, actor: Actor, org_id: str) -> OrganizationView:
    require_operator(actor)
    with ctx.uow(actor.scope) as uow:
        return organization_view(ctx.catalog, _load(uow, org_id), uow)


def _ensure_email_free(
    uow: UnitOfWork,
    email: str,
    org_id: str,
    *,
    allow_own_user: bool = False,
    allow_own_admin: bool = False,
) -> None:
    """One person belongs to one organization; an admin may also be a user of the same one."""
    errors = ErrorCollector()
    admin = uow.organizations.admin_by_email(email)
    user = uow.organizations.user_by_email(email)
    if admin is not None and not (allow_own_admin and admin.org_id == org_id):
        errors.add("email", "That email is already an administrator of an organization.")
    if user is not None and not (allow_own_user and user.org_id == org_id):
        errors.add("email", "That email already belongs to an organization.")
    errors.raise_if_any()
