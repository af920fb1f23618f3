"""The demo world `make serve` starts with: an operator, a certified tier-1 partner with a
sales full administrator, and a few organizations a partner may meet."""

from __future__ import annotations

from dataclasses import dataclass

from trialhub.domain.roles import Role
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.customers import organizations
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
)
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.store.repositories import Scope

DEMO_PASSWORD = "trialhub-demo"


OPERATOR_EMAIL = "trials-team@trialhub.example"


SALES_EMAIL = "sales@demo-partner.example"


SYSTEM_OPERATOR = Actor(
    admin_id="system",
    email="system",
    name="Local operator (command line)",
    roles=frozenset({Role.OPERATOR}),
)


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    token: str
    partner_name: str | None


def ensure_demo(ctx: Context) -> list[DemoLogin]:
    """Creates the demo world once; on later runs issues fresh tokens for the same people."""
    existing = _admin_id(ctx, SALES_EMAIL)
    if existing is None:
        _create_world(ctx)
    logins = []
    for email, partner in ((SALES_EMAIL, "Demo Partner"), (OPERATOR_EMAIL, None)):
        admin_id = _admin_id(ctx, email)
        assert admin_id is not None
        token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin_id, IssueToken(label="make serve"))
        assert token.token is not None
        logins.append(DemoLogin(email, DEMO_PASSWORD, token.token, partner))
    return logins


@dataclass(frozen=True)
class DemoOrganization:
    """An organization of the demo world, and the emails that meet it when starting a trial."""

    id: str
    name: str
    region: str
    emails: tuple[tuple[str, str], ...]  # (email, what a partner meets with it)


# the existing-customer paths of rule C3, one email each
DEMO_ORG_EMAILS = (
    ("hank@globex.example", "full administrator: the consent request goes to him (C3, K1)"),
    ("homer@globex.example", "user: the request goes to him and every full admin (K1)"),
    ("casey@gmail.example", "free account: moved into the new organization (C3)"),
)


def demo_organizations(ctx: Context) -> list[DemoOrganization]:
    """The demo world's organizations with an email to try for each path (rule C3)."""
    found: dict[str, DemoOrganization] = {}
    with ctx.uow(Scope.system("demo")) as uow:
        for email, meets in DEMO_ORG_EMAILS:
            owner = uow.organizations.owner_of_email(email)
            if owner is None:
                continue
            org = owner.organization
            known = found.get(org.id)
            emails = (*(known.emails if known else ()), (email, meets))
            region = ctx.catalog.regions[org.region].name
            found[org.id] = DemoOrganization(org.id, org.name, region, emails)
    return list(found.values())


def has_demo_world(ctx: Context) -> bool:
    """Whether `ensure_demo` ran on this database (its sales administrator exists)."""
    return _admin_id(ctx, SALES_EMAIL) is not None


def _admin_id(ctx: Context, email: str) -> str | None:
    try:
        return accounts.actor_for_email(ctx, email).admin_id
    except Exception:
        return None


def _create_world(ctx: Context) -> None:
    op = SYSTEM_OPERATOR
    accounts.create_admin(
        ctx,
        op,
        None,
        CreateAdmin(
            email=OPERATOR_EMAIL, name="Trials Team", roles=["operator"], password=DEMO_PASSWORD
        ),
    )
    partner = accounts.create_partner(ctx, op, CreatePartner(name="Demo Partner", tier=1))
    accounts.create_admin(
        ctx,
        op,
        partner.id,
        CreateAdmin(
            email=SALES_EMAIL,
            name="Sam Sales",
            roles=["sales_full_admin"],
            password=DEMO_PASSWORD,
        ),
    )
    other = accounts.create_partner(ctx, op, CreatePartner(name="Other Partner", tier=1))
    # an existing organization with paid Meetings managed by another partner (rules C3, A1)
    globex = organizations.create_organization(
        ctx, op, CreateOrganization(name="Globex", country="DE", business_vertical="manufacturing")
    )
    organizations.add_org_admin(
        ctx, op, globex.id, AddOrgAdmin(email="hank@globex.example", name="Hank Scorpio")
    )
    organizations.add_org_user(
        ctx, op, globex.id, AddOrgUser(email="homer@globex.example", name="Homer Simpson")
    )
    organizations.add_subscription(
        ctx, op, globex.id, AddSubscription(service="meetings", quantity=250, partner_id=other.id)
    )
    # the free consumer organization (rule C3: its accounts move into new organizations)
    free = organizations.create_organization(
        ctx, op, CreateOrganization(name="Webex Free", country="US", kind="free")
    )
    organizations.add_org_user(
        ctx, op, free.id, AddOrgUser(email="casey@gmail.example", name="Casey Free")
    )
