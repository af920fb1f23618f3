"""Trials and the customer list."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import AsOpt, DatabaseOpt, acting, console, open_context
from trialhub.services import customers, trials
from trialhub.services.kernel import Actor, Context
from trialhub.services.trials.schemas import (
    MeetingsSiteInput,
    NewCustomer,
    PreviewTrial,
    ServiceChoice,
    StartTrial,
    TrialView,
)

trial_app = typer.Typer(
    help="Trials: start, show, provision, extend, services, delete.", no_args_is_help=True
)
app = typer.Typer()


def parse_services(values: list[str]) -> list[ServiceChoice]:
    """`meetings:enterprise`, `messaging`, `room_devices:3` -> service choices."""
    out = []
    for v in values:
        code, _, extra = v.partition(":")
        if extra.isdigit():
            out.append(ServiceChoice(code=code, quantity=int(extra)))
        else:
            out.append(ServiceChoice(code=code, edition=extra or None))
    return out


def print_trial(t: TrialView) -> None:
    ends = t.ends_at.date().isoformat() if t.ends_at else "when provisioned"
    services = ", ".join(s.code for s in t.services if s.removed_at is None)
    console.print(
        f"Trial [bold]{t.id}[/] ({services}) is {t.status_label.lower()}; "
        f"it ends {ends}. Customer: {t.customer_id}",
        highlight=False,
    )
    if t.consent_deadline and t.status == "pending_consent":
        console.print(f"Consent needed by {t.consent_deadline:%Y-%m-%d %H:%M} UTC (rule K6).")


ServicesOpt = Annotated[
    list[str],
    typer.Option(help="meetings[:edition], messaging, calling, room_devices:N; repeatable"),
]
SupportedLocationOpt = Annotated[
    bool, typer.Option("--supported-location", help="Acknowledge a supported location (C1)")
]
ConfirmOrgOpt = Annotated[
    str | None,
    typer.Option("--confirm-org", help="The existing organization's id, confirmed (C3)"),
]
CustomerOpt = Annotated[
    str | None, typer.Option(help="Add the trial to this customer of yours (rule A1)")
]
LicensesOpt = Annotated[
    int | None, typer.Option(help="User licenses, shared by user services (rule S1)")
]
DurationOpt = Annotated[int | None, typer.Option(help="Days: one of the catalog's trial durations")]
TimeZoneOpt = Annotated[str | None, typer.Option("--time-zone", help="IANA time zone")]


@trial_app.command("start")
def trial_start(
    as_: AsOpt,
    service: ServicesOpt,
    company: Annotated[str | None, typer.Option(help="Company name (rule C1)")] = None,
    admin_email: Annotated[
        str | None, typer.Option("--admin-email", help="Customer admin email")
    ] = None,
    vertical: Annotated[str | None, typer.Option(help="Business vertical code")] = None,
    country: Annotated[str | None, typer.Option(help="ISO country code (rule C2)")] = None,
    supported_location: SupportedLocationOpt = False,
    confirm_org: ConfirmOrgOpt = None,
    customer: CustomerOpt = None,
    licenses: LicensesOpt = None,
    duration: DurationOpt = None,
    site: Annotated[str | None, typer.Option(help="Meetings site URL: name.webex.com")] = None,
    time_zone: TimeZoneOpt = None,
    setup: Annotated[str, typer.Option(help="now or later")] = "now",
    database_url: DatabaseOpt = None,
) -> None:
    """Start a trial: a new customer, an existing organization (with --confirm-org; it then
    waits for consent), or one of your customers (--customer)."""
    with open_context(database_url) as ctx:
        actor = acting(ctx, as_)
        new_customer = None
        if customer is None:
            new_customer = NewCustomer(
                company_name=company or "",
                admin_email=admin_email or "",
                business_vertical=vertical or "",
                country=country or "",
                supported_location_ack=supported_location,
            )
        cmd = StartTrial(
            customer=new_customer,
            customer_id=customer,
            confirm_existing_org_id=confirm_org,
            services=parse_services(service),
            user_licenses=licenses,
            duration_days=duration,
            meetings=_meetings(site, time_zone),
            setup="later" if setup == "later" else "now",
        )
        print_trial(trials.start_trial(ctx, actor, cmd))


def _meetings(site: str | None, time_zone: str | None) -> MeetingsSiteInput | None:
    if not (site or time_zone):
        return None
    return MeetingsSiteInput(site_url=site or "", time_zone=time_zone or "")


@trial_app.command("preview")
def trial_preview(
    as_: AsOpt,
    admin_email: Annotated[str, typer.Option("--admin-email", help="Customer admin email")],
    country: Annotated[str, typer.Option(help="ISO country code (rule C2)")],
    company: Annotated[str, typer.Option(help="Company name")] = "Preview",
    vertical: Annotated[str, typer.Option(help="Business vertical code")] = "other",
    database_url: DatabaseOpt = None,
) -> None:
    """What a start would do: the region, an existing organization to confirm (C3), and
    which services can be trialed and why not (S3). Writes nothing."""
    with open_context(database_url) as ctx:
        view = trials.preview_trial(
            ctx,
            acting(ctx, as_),
            PreviewTrial(
                customer=NewCustomer(
                    company_name=company,
                    admin_email=admin_email,
                    business_vertical=vertical,
                    country=country,
                    supported_location_ack=True,
                )
            ),
        )
    region = view.region.name if view.region else "?"
    console.print(f"Flow: {view.flow}; data stays in {region}.", highlight=False)
    if view.existing_organization:
        org = view.existing_organization
        console.print(
            f"Existing organization: {org.name} ({org.id}, {org.region.name}); "
            f"confirm it with --confirm-org {org.id}",
            highlight=False,
        )
    for warning in view.warnings:
        console.print(f"[yellow]warning[/]: {warning}", highlight=False)
    for e in view.services:
        mark = "[green]can trial[/]" if e.eligible else f"[red]cannot[/]: {e.reason}"
        console.print(f"  {e.name}: {mark}", highlight=False)


@trial_app.command("show")
def trial_show(
    trial_id: Annotated[str, typer.Argument(help="The trial id (trl_…)")],
    as_: AsOpt,
    database_url: DatabaseOpt = None,
) -> None:
    """One trial."""
    with open_context(database_url) as ctx:
        t = trials.get_trial(ctx, acting(ctx, as_), trial_id)
    print_trial(t)
    for e in t.extensions:
        console.print(f"  extended {e.at:%Y-%m-%d}: to {e.new_end:%Y-%m-%d} ({e.reason or ''})")


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
    with open_context(database_url) as ctx:
        actor = acting(ctx, as_)
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
