"""Keyword-only factories with valid defaults (architecture 11): partners, administrators
with their tokens, the world of one partner, customer organizations, request bodies."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from fastapi.testclient import TestClient

from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.render import JinjaRenderer
from trialhub.services import accounts
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.customers import organizations as orgs
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
)
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.kernel.actor import Actor
from trialhub.services.kernel.context import Context
from trialhub.services.messaging import delivery, mailbox


@dataclass
class Login:
    """An administrator the tests act as: the service-layer actor and its API token."""

    actor: Actor
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_partner(
    ctx: Context, *, name: str = "Partner A", tier: int = 1, certified: bool = True
) -> str:
    cmd = CreatePartner(
        name=name,
        tier=tier,  # type: ignore[arg-type]
        certified=certified,
        distributor_name="Distributor" if tier == 2 else None,
    )
    return accounts.create_partner(ctx, SYSTEM_OPERATOR, cmd).id


def make_admin(
    ctx: Context,
    *,
    partner_id: str | None,
    roles: tuple[str, ...] = ("sales_full_admin",),
    email: str | None = None,
    password: str | None = None,
) -> Login:
    email = email or f"{roles[0]}-{uuid.uuid4().hex[:6]}@partner.example"
    admin = accounts.create_admin(
        ctx,
        SYSTEM_OPERATOR,
        partner_id,
        CreateAdmin(email=email, name="Test Admin", roles=list(roles), password=password),
    )
    token = accounts.issue_token(ctx, SYSTEM_OPERATOR, admin.id, IssueToken(label="test"))
    assert token.token is not None
    return Login(actor=accounts.actor_for_email(ctx, email), token=token.token)


def new_customer_body(**overrides: Any) -> dict[str, Any]:
    """A valid start-trial request for a new customer; override any top-level key."""
    suffix = uuid.uuid4().hex[:8]
    body: dict[str, Any] = {
        "customer": {
            "company_name": f"Acme {suffix}",
            "admin_email": f"admin-{suffix}@acme.example",
            "business_vertical": "retail",
            "country": "FR",
            "supported_location_ack": True,
        },
        "services": [{"code": "meetings", "edition": "enterprise"}, {"code": "messaging"}],
        "user_licenses": 50,
        "duration_days": 90,
        "meetings": {"site_url": f"acme-{suffix}.webex.com", "time_zone": "Europe/Paris"},
    }
    body.update(overrides)
    return body


@dataclass
class World:
    """A certified tier-1 partner with one administrator per role, and an operator."""

    ctx: Context
    partner_id: str
    sales_full: Login
    sales: Login
    partner_full: Login
    partner_admin: Login
    read_only: Login
    operator: Login

    def login(self, role: str) -> Login:
        return {
            "sales_full_admin": self.sales_full,
            "sales_admin": self.sales,
            "partner_full_admin": self.partner_full,
            "partner_admin": self.partner_admin,
            "read_only": self.read_only,
            "operator": self.operator,
        }[role]


def make_world(ctx: Context, *, name: str = "Partner A", certified: bool = True) -> World:
    pid = make_partner(ctx, name=name, certified=certified)
    return World(
        ctx=ctx,
        partner_id=pid,
        sales_full=make_admin(ctx, partner_id=pid, roles=("sales_full_admin",)),
        sales=make_admin(ctx, partner_id=pid, roles=("sales_admin",)),
        partner_full=make_admin(ctx, partner_id=pid, roles=("partner_full_admin",)),
        partner_admin=make_admin(ctx, partner_id=pid, roles=("partner_admin",)),
        read_only=make_admin(ctx, partner_id=pid, roles=("read_only",)),
        operator=make_admin(ctx, partner_id=None, roles=("operator",)),
    )


# ---- customers and their consent ------------------------------------------------------


def make_org(
    ctx: Context,
    *,
    full: tuple[str, ...],
    others: tuple[str, ...] = (),
    paid: str | None = None,
    partner: str | None = None,
) -> str:
    org = orgs.create_organization(
        ctx, SYSTEM_OPERATOR, CreateOrganization(name="Globex", country="DE")
    )
    for email in full:
        orgs.add_org_admin(ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email=email, name="F"))
    for email in others:
        orgs.add_org_admin(
            ctx, SYSTEM_OPERATOR, org.id, AddOrgAdmin(email=email, name="O", full=False)
        )
    orgs.add_org_user(
        ctx, SYSTEM_OPERATOR, org.id, AddOrgUser(email="user@globex.example", name="U")
    )
    if paid:
        orgs.add_subscription(
            ctx, SYSTEM_OPERATOR, org.id, AddSubscription(service=paid, partner_id=partner)
        )
    return org.id


def request_consent(
    client: TestClient, world: World, org_id: str, email: str, **kw: Any
) -> dict[str, Any]:
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=20, **kw)
    body["customer"]["admin_email"] = email
    body["confirm_existing_org_id"] = org_id
    r = client.post("/v1/trials", json=body, headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def links(ctx: Context) -> dict[str, str]:
    """The newest consent link of each recipient, as the emails carry it: the outbox keeps
    none (decision 0010), so the emails due are delivered to the local mailbox first."""
    mailer = MailboxMailer(ctx.db, ctx.clock)
    renderer = JinjaRenderer(ctx.public_url, "https://buy.example/{org_id}")
    # a demo context: only there is the local mailbox served
    demo = replace(ctx, mailer=mailer, renderer=renderer, local_mailbox=True)
    delivery.deliver_emails(demo)
    out: dict[str, str] = {}
    for mail in reversed(mailbox.list_mailbox(demo, limit=1000)):
        found = re.search(r"/consent/([\w-]+)", mailbox.get_mail(demo, mail.id).text)
        if found:
            out[mail.recipient] = found.group(1)
    return out


# ---- devices ---------------------------------------------------------------------------


def order_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": "customer",
        "address": {
            "name": "Marie Curie",
            "phone": "+33 1 23 45 67 89",
            "email": "Marie@Acme.example",
            "street": "1 rue de la Paix",
            "city": "Paris",
            "postal_code": "75002",
            "country": "FR",
        },
        "devices": [{"model": "desk-phone-9841", "quantity": 2}],
        "poe_supported": True,
    }
    body.update(overrides)
    return body


def dispatch_body(*serials: str, model: str = "desk-phone-9841", **kw: Any) -> dict[str, Any]:
    return {
        "carrier": "DHL",
        "tracking": "JD0123456789",
        "devices": [{"model": model, "serial_number": s} for s in serials],
        **kw,
    }
