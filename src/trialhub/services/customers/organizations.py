"""The trials team's use cases for the world partners meet: existing organizations, their
administrators, users and purchased services."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trialhub.domain.errors import ErrorCollector, NotFound
from trialhub.domain.organization import (
    AccessLevel,
    Customer,
    CustomerState,
    Organization,
    OrgKind,
)
from trialhub.domain.rules import collect_email
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
    OrganizationView,
)
from trialhub.services.customers.views import organization_view
from trialhub.services.kernel.actor import Actor, require_operator
from trialhub.services.kernel.context import Context
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
        org = Organization.new(
            name=" ".join(cmd.name.split()),
            kind=OrgKind(cmd.kind),
            country=country,
            region=ctx.catalog.countries[country].region,  # rule C2
            business_vertical=cmd.business_vertical,
            at=now,
        )
        uow.organizations.add(org)
        org.record_event(
            "organization.created", now, name=org.name, region=org.region, kind=org.kind
        )
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def _load(uow: UnitOfWork, org_id: str) -> Organization:
    org = uow.organizations.get(org_id)
    if org is None:
        raise NotFound("No such organization.")
    return org


def add_org_admin(ctx: Context, actor: Actor, org_id: str, cmd: AddOrgAdmin) -> OrganizationView:
    """An administrator of an organization; full ones can consent to trials (rule K2)."""

    def add(org: Organization, email: str, now: datetime) -> None:
        org.add_admin(email, cmd.name, full=cmd.full, at=now)
        org.record_event("organization.admin_added", now, email=email, full=cmd.full)

    return _add_person(ctx, actor, org_id, cmd.email, add, allow_own_user=True)


def add_org_user(ctx: Context, actor: Actor, org_id: str, cmd: AddOrgUser) -> OrganizationView:
    def add(org: Organization, email: str, now: datetime) -> None:
        org.add_user(email, cmd.name, now)
        org.record_event("organization.user_added", now, email=email)

    return _add_person(ctx, actor, org_id, cmd.email, add, allow_own_admin=True)


def _add_person(
    ctx: Context,
    actor: Actor,
    org_id: str,
    raw_email: str,
    add: Callable[[Organization, str, datetime], None],
    **allow: bool,
) -> OrganizationView:
    """The trials team adds a person whose email no other organization holds; `allow` says
    which role in this organization the email may hold already (see _ensure_email_free)."""
    require_operator(actor)
    now = ctx.now()
    errors = ErrorCollector()
    email = collect_email(raw_email, errors)
    errors.raise_if_any()
    with ctx.uow(actor.scope) as uow:
        org = _load(uow, org_id)
        _ensure_email_free(uow, email, org_id, **allow)
        add(org, email, now)
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def add_subscription(
    ctx: Context, actor: Actor, org_id: str, cmd: AddSubscription
) -> OrganizationView:
    """A purchased service and its managing partner, whose customer the organization then is
    (rules S3, A1)."""
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
        org.add_subscription(cmd.service, cmd.quantity, now, partner_id=cmd.partner_id)
        org.record_event(
            "organization.subscription_added",
            now,
            partner_id=cmd.partner_id,
            service=cmd.service,
        )
        if cmd.partner_id is not None:
            join_managing_partner(uow, cmd.partner_id, org, now)
        uow.commit()
        return organization_view(ctx.catalog, org, uow)


def join_managing_partner(
    uow: UnitOfWork, partner_id: str, org: Organization, at: datetime
) -> Customer | None:
    """Rule A1: an organization with a service a partner manages is in that partner's
    customer list, so adding a trial to it needs no consent. It joins with full administrator
    access, the access of a partner of record; an entry already active keeps the access its
    administrator chose (rule K3). Another partner's list is untouched (rule P3)."""
    if org.kind != OrgKind.CUSTOMER:
        return None  # the free consumer organization is no one's customer
    customer = uow.customers.for_org(partner_id, org.id)
    if customer is None:
        customer = Customer.new(
            partner_id=partner_id,
            org=org,
            state=CustomerState.ACTIVE,
            access=AccessLevel.FULL,
            at=at,
            reason="manages_subscription",
        )
        uow.customers.add(customer)
    else:  # pending consent, or removed earlier: the same entry, now for good
        customer.join_as_manager(at)
    return customer


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
