"""The command line: serve, db, demo, partner, admin, trial, customers (Typer + Rich)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from trialhub.domain.errors import TrialhubError
from trialhub.services import accounts, customers, demo, trials
from trialhub.services.context import Actor, Context
from trialhub.services.schemas import (
    CreateAdmin,
    CreatePartner,
    IssueToken,
    MeetingsSiteInput,
    NewCustomer,
    ServiceChoice,
    StartTrial,
)
from trialhub.settings import Settings
from trialhub.store.db import Database, upgrade

app = typer.Typer(
    help="trialhub: start and run service trials for your customers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)
partner_app = typer.Typer(
    help="Partner organizations (the trials team's work).", no_args_is_help=True
)
admin_app = typer.Typer(help="Administrators and their API tokens.", no_args_is_help=True)
trial_app = typer.Typer(help="Trials.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(partner_app, name="partner")
app.add_typer(admin_app, name="admin")
app.add_typer(trial_app, name="trial")

console = Console()
err = Console(stderr=True)

DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", envvar="TRIALHUB_DATABASE_URL", help="SQLAlchemy URL"),
]
AsOpt = Annotated[str, typer.Option("--as", help="Act as this administrator (email)")]


def _url(database_url: str | None) -> str:
    return database_url or Settings().database_url


@contextmanager
def _context(database_url: str | None, *, migrate: bool = True) -> Iterator[Context]:
    url = _url(database_url)
    if migrate:
        upgrade(url)
    db = Database.open(url)
    try:
        yield Context(db=db)
    except TrialhubError as error:
        _fail(error)
    finally:
        db.dispose()


def _fail(error: TrialhubError) -> None:
    rule = f" (rule {error.rule})" if error.rule else ""
    err.print(f"[bold red]error[/]{rule}: {error.message}")
    for e in error.errors:
        if e.message != error.message or len(error.errors) > 1:
            err.print(f"  [yellow]{e.field}[/]: {e.message}")
    raise typer.Exit(code=1)


# ---- serve and db -------------------------------------------------------------------------


@app.command()
def serve(
    database_url: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(envvar="TRIALHUB_PORT", help="Port")] = None,
    demo_data: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Create the demo partner and print logins")
    ] = False,
) -> None:
    """Migrate the database and serve the API (and the pages) with uvicorn."""
    import uvicorn

    from trialhub.api.app import create_app

    settings = Settings()
    url = _url(database_url)
    upgrade(url)
    db = Database.open(url)
    ctx = Context(db=db)
    bind_host = host or settings.host
    bind_port = port or settings.port
    if demo_data:
        _print_demo(demo.ensure_demo(ctx), bind_port)
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    console.print(f"Database: {db.dialect} ({_redact(url)})")
    console.print(f"trialhub is running at [bold]http://{shown}:{bind_port}[/] (API docs at /docs)")
    logging.basicConfig(level=settings.log_level.upper())
    uvicorn.run(create_app(ctx), host=bind_host, port=bind_port, log_level=settings.log_level)


def _redact(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def _print_demo(logins: list[demo.DemoLogin], port: int = 8000) -> None:
    """Plain lines, so that a narrow terminal never folds a token."""
    console.print("[bold]Demo sign-ins[/] (local data only):")
    for login in logins:
        who = (
            f"sales full administrator of {login.partner_name}"
            if login.partner_name
            else "operator"
        )
        console.print(f"  {who}", highlight=False)
        console.print(f"    email:     {login.email}", highlight=False)
        console.print(f"    password:  {login.password}", highlight=False)
        console.print(f"    API token: {login.token}", soft_wrap=True, highlight=False)
    sales = logins[0]
    console.print("Try:", style="bold")
    console.print(f"  export TOKEN={sales.token}", soft_wrap=True, highlight=False)
    console.print(
        f'  curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{port}/v1/customers',
        soft_wrap=True,
        highlight=False,
    )


@db_app.command("upgrade")
def db_upgrade(
    database_url: DatabaseOpt = None,
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply the migrations (the only way the schema is ever created)."""
    url = _url(database_url)
    upgrade(url, revision)
    console.print(f"Database at {_redact(url)} is at revision {revision}.")


@app.command("demo")
def demo_command(database_url: DatabaseOpt = None) -> None:
    """Create the demo world (operator, partner, organizations) and print fresh tokens."""
    with _context(database_url) as ctx:
        _print_demo(demo.ensure_demo(ctx))


# ---- partners and admins ------------------------------------------------------------------


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
    with _context(database_url) as ctx:
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
    database_url: DatabaseOpt = None,
) -> None:
    """Create an administrator with roles (rule P2)."""
    with _context(database_url) as ctx:
        a = accounts.create_admin(
            ctx,
            demo.SYSTEM_OPERATOR,
            partner,
            CreateAdmin(email=email, name=name, roles=role, password=password),
        )
        console.print(f"Administrator [bold]{a.email}[/] created: {a.id} ({', '.join(a.roles)})")


@admin_app.command("token")
def admin_token(
    email: Annotated[str, typer.Argument(help="The administrator's email")],
    label: Annotated[str, typer.Option(help="What the token is for")] = "cli",
    database_url: DatabaseOpt = None,
) -> None:
    """Issue an API token; it is printed once and stored only as a hash."""
    with _context(database_url) as ctx:
        admin = accounts.actor_for_email(ctx, email)
        t = accounts.issue_token(ctx, demo.SYSTEM_OPERATOR, admin.admin_id, IssueToken(label=label))
        console.print(t.token, soft_wrap=True, highlight=False)


# ---- trials and customers -----------------------------------------------------------------


def _services(values: list[str]) -> list[ServiceChoice]:
    out = []
    for v in values:
        code, _, extra = v.partition(":")
        if extra.isdigit():
            out.append(ServiceChoice(code=code, quantity=int(extra)))
        else:
            out.append(ServiceChoice(code=code, edition=extra or None))
    return out


@trial_app.command("start")
def trial_start(
    as_: AsOpt,
    company: Annotated[str, typer.Option(help="Company name (rule C1)")],
    admin_email: Annotated[str, typer.Option("--admin-email", help="Customer admin email")],
    vertical: Annotated[str, typer.Option(help="Business vertical code (see the catalog)")],
    country: Annotated[str, typer.Option(help="ISO country code, decides the region (C2)")],
    service: Annotated[
        list[str],
        typer.Option(help="meetings[:edition], messaging, calling, room_devices:N; repeatable"),
    ],
    licenses: Annotated[int | None, typer.Option(help="User licenses (1-999)")] = None,
    duration: Annotated[int | None, typer.Option(help="Days: 30, 60 or 90")] = None,
    site: Annotated[str | None, typer.Option(help="Meetings site URL: name.webex.com")] = None,
    time_zone: Annotated[str | None, typer.Option("--time-zone", help="IANA time zone")] = None,
    supported_location: Annotated[
        bool,
        typer.Option("--supported-location", help="Acknowledge a supported location (C1)"),
    ] = False,
    setup: Annotated[str, typer.Option(help="now or later")] = "now",
    database_url: DatabaseOpt = None,
) -> None:
    """Start a trial for a new customer."""
    with _context(database_url) as ctx:
        actor = accounts.actor_for_email(ctx, as_)
        cmd = StartTrial(
            customer=NewCustomer(
                company_name=company,
                admin_email=admin_email,
                business_vertical=vertical,
                country=country,
                supported_location_ack=supported_location,
            ),
            services=_services(service),
            user_licenses=licenses,
            duration_days=duration,
            meetings=MeetingsSiteInput(site_url=site, time_zone=time_zone or "")
            if site or time_zone
            else None,
            setup=setup,
        )
        t = trials.start_trial(ctx, actor, cmd)
        ends = t.ends_at.date().isoformat() if t.ends_at else "when provisioned"
        console.print(f"Trial [bold]{t.id}[/] is {t.status_label.lower()}; it ends {ends}.")


@app.command("customers")
def customers_command(
    as_: AsOpt,
    status: Annotated[str | None, typer.Option(help="Filter by trial status")] = None,
    text: Annotated[str | None, typer.Option(help="Filter by name or admin email")] = None,
    expiring_within: Annotated[
        int | None, typer.Option("--expiring-within", help="Active trials ending within N days")
    ] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Your customer list, soonest-ending trial first."""
    with _context(database_url) as ctx:
        actor = accounts.actor_for_email(ctx, as_)
        _print_customers(ctx, actor, status, text, expiring_within)


def _print_customers(
    ctx: Context, actor: Actor, status: str | None, text: str | None, expiring: int | None
) -> None:
    table = Table(title=f"Customers of {actor.partner_name}")
    for column in ("Customer", "Admin", "Region", "Status", "Services", "Ends", "Days left"):
        table.add_column(column)
    cursor: str | None = None
    while True:
        page = customers.list_customers(
            ctx, actor, status=status, text=text, expiring_within_days=expiring, cursor=cursor
        )
        for c in page.items:
            table.add_row(
                c.name,
                c.admin_email or "",
                c.region.name,
                c.status_label or "no open trial",
                ", ".join(c.services),
                c.ends_at.date().isoformat() if c.ends_at else "",
                "" if c.days_left is None else str(c.days_left),
            )
        cursor = page.next_cursor
        if cursor is None:
            break
    console.print(table)


def main() -> None:
    app()
