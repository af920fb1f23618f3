"""Partners, administrators and tokens (the trials team's work, as the local operator)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import DatabaseOpt, acting, console, open_context
from trialhub.services import accounts, customers, demo, messaging
from trialhub.services.accounts.schemas import CreateAdmin, CreatePartner, IssueToken
from trialhub.services.customers.schemas import (
    AddOrgAdmin,
    AddOrgUser,
    AddSubscription,
    CreateOrganization,
)

partner_app = typer.Typer(
    help="Partner organizations (the trials team's work).", no_args_is_help=True
)
admin_app = typer.Typer(help="Administrators and their API tokens.", no_args_is_help=True)
app_mail = typer.Typer()


@partner_app.command("create")
def partner_create(
    name: Annotated[str, typer.Option(help="The partner's name")],
    tier: Annotated[int, typer.Option(min=1, max=2, help="1 or 2")] = 1,
    certified: Annotated[bool, typer.Option("--certified/--not-certified")] = True,
    distributor: Annotated[
        str | None, typer.Option(help="Distributor name (creates it) for a tier-2 partner")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create a partner organization (as the local operator)."""
    with open_context(database_url) as ctx:
        p = accounts.create_partner(
            ctx,
            demo.SYSTEM_OPERATOR,
            CreatePartner(name=name, tier=tier, certified=certified, distributor_name=distributor),
        )
        console.print(f"Partner [bold]{p.name}[/] created: {p.id}")


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[list[str], typer.Option("--role", help="A role; repeat for several")],
    partner: Annotated[str | None, typer.Option(help="Partner id (omit for operators)")] = None,
    password: Annotated[str | None, typer.Option(help="Password for the portal")] = None,
    distributor: Annotated[
        str | None, typer.Option(help="Distributor id, for the distributor role (dst_…)")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an administrator with roles (rule P2)."""
    with open_context(database_url) as ctx:
        a = accounts.create_admin(
            ctx,
            demo.SYSTEM_OPERATOR,
            partner,
            CreateAdmin(
                email=email,
                name=name,
                roles=role,
                password=password,
                distributor_id=distributor,
            ),
        )
        console.print(f"Administrator [bold]{a.email}[/] created: {a.id} ({', '.join(a.roles)})")


@admin_app.command("token")
def admin_token(
    email: Annotated[str, typer.Argument(help="The administrator's email")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Issue an API token; it is printed once and stored only as a hash."""
    with open_context(database_url) as ctx:
        admin = acting(ctx, email)
        t = accounts.issue_token(ctx, demo.SYSTEM_OPERATOR, admin.admin_id, IssueToken(label=label))
        console.print(t.token, soft_wrap=True, highlight=False)


org_app = typer.Typer(
    help="Existing customer organizations, the world partners meet (operator).",
    no_args_is_help=True,
)


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="Organization name")],
    country: Annotated[str, typer.Option(help="ISO country code (decides the region)")],
    vertical: Annotated[str | None, typer.Option(help="Business vertical code")] = None,
    free: Annotated[bool, typer.Option("--free", help="The free consumer organization")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Create an organization."""
    with open_context(database_url) as ctx:
        org = customers.create_organization(
            ctx,
            demo.SYSTEM_OPERATOR,
            CreateOrganization(
                name=name,
                country=country,
                business_vertical=vertical,
                kind="free" if free else "customer",
            ),
        )
        console.print(f"Organization [bold]{org.name}[/] ({org.region.name}) created: {org.id}")


@org_app.command("add-admin")
def org_add_admin(
    org_id: Annotated[str, typer.Argument(help="Organization id")],
    email: Annotated[str, typer.Option(help="Email")],
    name: Annotated[str, typer.Option(help="Name")],
    full: Annotated[bool, typer.Option("--full/--not-full", help="Full administrator")] = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Add an administrator (full ones may consent to trials, rule K2)."""
    with open_context(database_url) as ctx:
        customers.add_org_admin(
            ctx, demo.SYSTEM_OPERATOR, org_id, AddOrgAdmin(email=email, name=name, full=full)
        )
        console.print(f"{email} is now an administrator of {org_id}.", highlight=False)


@org_app.command("add-user")
def org_add_user(
    org_id: Annotated[str, typer.Argument(help="Organization id")],
    email: Annotated[str, typer.Option(help="Email")],
    name: Annotated[str, typer.Option(help="Name")],
    database_url: DatabaseOpt = None,
) -> None:
    """Add a user."""
    with open_context(database_url) as ctx:
        customers.add_org_user(
            ctx, demo.SYSTEM_OPERATOR, org_id, AddOrgUser(email=email, name=name)
        )
        console.print(f"{email} is now a user of {org_id}.", highlight=False)


@org_app.command("add-subscription")
def org_add_subscription(
    org_id: Annotated[str, typer.Argument(help="Organization id")],
    service: Annotated[str, typer.Option(help="Service code")],
    quantity: Annotated[int, typer.Option(help="Licenses")] = 1,
    partner: Annotated[str | None, typer.Option(help="Managing partner id")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Add a purchased service and the partner that manages it."""
    with open_context(database_url) as ctx:
        customers.add_subscription(
            ctx,
            demo.SYSTEM_OPERATOR,
            org_id,
            AddSubscription(service=service, quantity=quantity, partner_id=partner),
        )
        console.print(f"{org_id} now has {service}.", highlight=False)


@app_mail.command("outbox")
def outbox_command(
    limit: Annotated[int, typer.Option(min=1, help="How many, newest last")] = 50,
    database_url: DatabaseOpt = None,
) -> None:
    """The queue of emails and webhooks: what waits, what was sent, what keeps failing."""
    with open_context(database_url) as ctx:
        messages = messaging.list_messages(ctx, demo.SYSTEM_OPERATOR, limit=10_000)[-limit:]
    table = Table(title="Outbox")
    # no links: a consent link is a credential and lives only in the email (decision 0010)
    for column in ("#", "When (UTC)", "To", "Template", "Sent", "Tries", "Last error"):
        table.add_column(column, overflow="fold")
    for m in messages:
        sent = m.sent_at.strftime("%Y-%m-%d %H:%M") if m.sent_at else "queued"
        table.add_row(
            str(m.id),
            m.created_at.strftime("%Y-%m-%d %H:%M"),
            m.recipient,
            m.template,
            sent,
            str(m.attempts),
            m.last_error or "",
        )
    console.print(table)


@app_mail.command("mail")
def mail(
    to: Annotated[str | None, typer.Option(help="Only emails to this address")] = None,
    show: Annotated[int | None, typer.Option(help="Print this email's text")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many, newest first")] = 30,
    database_url: DatabaseOpt = None,
) -> None:
    """The local mailbox of demo and sandbox databases (refused elsewhere, and with SMTP)."""
    with open_context(database_url) as ctx:
        messaging.require_served(ctx)
        if show is not None:
            one = messaging.get_mail(ctx, show)
            console.print(f"To: {one.recipient}\nSubject: {one.subject}\n", highlight=False)
            console.print(one.text, highlight=False, markup=False)
            return
        mails = messaging.list_mailbox(ctx, recipient=to, limit=limit)
    table = Table(title="Mailbox")
    for column in ("#", "When (UTC)", "To", "Subject", "Link"):
        table.add_column(column, overflow="fold")
    for m in mails:
        table.add_row(
            str(m.id),
            m.created_at.strftime("%Y-%m-%d %H:%M"),
            m.recipient,
            m.subject,
            m.first_link or "",
        )
    console.print(table)
