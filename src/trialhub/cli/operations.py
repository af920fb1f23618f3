"""Trial operations after the start, the customer's consent, and customer views."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import AsOpt, DatabaseOpt, acting, console, open_context
from trialhub.cli.trials import parse_services, print_trial, trial_app
from trialhub.services import consent, customers, trials
from trialhub.services.consent.schemas import ConsentDecision
from trialhub.services.customers.schemas import SetUpUser
from trialhub.services.trials.schemas import (
    ChangeServices,
    ExtendTrial,
    MeetingsSiteInput,
    ProvisionTrial,
)

TrialArg = Annotated[str, typer.Argument(help="The trial id (trl_…)")]
customer_app = typer.Typer(help="One customer: details, users.", no_args_is_help=True)
consent_app = typer.Typer(
    help="The customer's side of a trial request (the link's token).", no_args_is_help=True
)


@trial_app.command("provision")
def provision(trial_id: TrialArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Complete provisioning: awaiting provisioning -> active (rules K4, T1)."""
    with open_context(database_url) as ctx:
        print_trial(trials.provision_trial(ctx, acting(ctx, as_), trial_id, ProvisionTrial()))


@trial_app.command("services")
def services(
    trial_id: TrialArg,
    as_: AsOpt,
    add: Annotated[list[str] | None, typer.Option(help="Service to add; repeatable")] = None,
    remove: Annotated[list[str] | None, typer.Option(help="Service to remove; repeatable")] = None,
    licenses: Annotated[int | None, typer.Option(help="User licenses, if none yet")] = None,
    site: Annotated[str | None, typer.Option(help="Meetings site URL when adding it")] = None,
    time_zone: Annotated[str | None, typer.Option("--time-zone")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Add or remove services (rule S4; added ones pass rule S3)."""
    with open_context(database_url) as ctx:
        cmd = ChangeServices(
            add=parse_services(add or []),
            remove=remove or [],
            user_licenses=licenses,
            meetings=MeetingsSiteInput(site_url=site or "", time_zone=time_zone or "")
            if site or time_zone
            else None,
        )
        print_trial(trials.change_services(ctx, acting(ctx, as_), trial_id, cmd))


@trial_app.command("extend")
def extend(
    trial_id: TrialArg,
    as_: AsOpt,
    reason: Annotated[str | None, typer.Option(help="Why (kept with the extension)")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Add the policy's extension (rule T3) to the later of the end date and today; a
    trial in its grace period becomes active again."""
    with open_context(database_url) as ctx:
        t = trials.extend_trial(ctx, acting(ctx, as_), trial_id, ExtendTrial(reason=reason))
        print_trial(t)


@trial_app.command("resend")
def resend(trial_id: TrialArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Send the consent email again; the consent window does not restart (rule K5)."""
    with open_context(database_url) as ctx:
        print_trial(trials.resend(ctx, acting(ctx, as_), trial_id))


@trial_app.command("cancel")
def cancel(trial_id: TrialArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Cancel a request pending consent; the customer leaves your list (rule K5)."""
    with open_context(database_url) as ctx:
        print_trial(trials.cancel(ctx, acting(ctx, as_), trial_id))


@trial_app.command("delete")
def delete(
    trial_id: TrialArg,
    as_: AsOpt,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: this cannot be undone")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """End the trial at once and release what it held (rule T9)."""
    if not yes:
        yes = typer.confirm("Delete this trial? It ends at once and cannot be undone.")
    with open_context(database_url) as ctx:
        print_trial(trials.delete_trial(ctx, acting(ctx, as_), trial_id, confirm=yes))


@trial_app.command("timeline")
def timeline(trial_id: TrialArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """What happened to the trial, and every deadline still ahead."""
    with open_context(database_url) as ctx:
        view = trials.timeline(ctx, acting(ctx, as_), trial_id)
    past = Table(title=f"Trial {view.trial_id}: {view.status_label}")
    for column in ("When (UTC)", "What", "Who"):
        past.add_column(column)
    for e in view.events:
        past.add_row(e.at.strftime("%Y-%m-%d %H:%M"), e.action, e.actor_label)
    console.print(past)
    ahead = Table(title="Deadlines ahead")
    for column in ("When (UTC)", "What"):
        ahead.add_column(column)
    for d in view.deadlines:
        ahead.add_row(d.at.strftime("%Y-%m-%d %H:%M"), d.label)
    console.print(ahead)


@customer_app.command("show")
def customer_show(
    customer_id: Annotated[str, typer.Argument(help="The customer id (cus_…)")],
    as_: AsOpt,
    database_url: DatabaseOpt = None,
) -> None:
    """A customer: purchased services and who manages them, trials, what it may still trial."""
    with open_context(database_url) as ctx:
        c = customers.get_customer(ctx, acting(ctx, as_), customer_id)
    org = c.organization
    console.print(
        f"[bold]{org.name}[/] ({org.region.name}) · access: {c.access or 'pending'}",
        highlight=False,
    )
    subs = Table(title="Purchased services")
    for column in ("Service", "Quantity", "Managed by"):
        subs.add_column(column)
    for s in org.subscriptions:
        subs.add_row(s.service_name, str(s.quantity), s.managing_partner_name or "")
    console.print(subs)
    table = Table(title="Trials")
    for column in ("Trial", "Status", "Services", "Ends"):
        table.add_column(column)
    for t in c.trials:
        active = ", ".join(s.code for s in t.services if s.removed_at is None)
        ends = t.ends_at.date().isoformat() if t.ends_at else ""
        table.add_row(t.id, t.status_label, active, ends)
    console.print(table)
    for e in c.eligible_services:
        mark = "[green]can trial[/]" if e.eligible else f"[red]cannot[/]: {e.reason}"
        console.print(f"  {e.name}: {mark}", highlight=False)


@customer_app.command("add-user")
def customer_add_user(
    customer_id: Annotated[str, typer.Argument(help="The customer id (cus_…)")],
    as_: AsOpt,
    email: Annotated[str, typer.Option(help="The user's email")],
    name: Annotated[str, typer.Option(help="The user's name")],
    database_url: DatabaseOpt = None,
) -> None:
    """Set up a user on the customer's behalf (needs full-admin access, rule K3)."""
    with open_context(database_url) as ctx:
        org = customers.set_up_user(
            ctx, acting(ctx, as_), customer_id, SetUpUser(email=email, name=name)
        )
        console.print(f"{email} is now a user of {org.name}.", highlight=False)


TokenArg = Annotated[str, typer.Argument(help="The token at the end of the consent link")]


@consent_app.command("show")
def consent_show(token: TokenArg, database_url: DatabaseOpt = None) -> None:
    """The request behind a consent link, and every request pending for the organization."""
    with open_context(database_url) as ctx:
        v = consent.view(ctx, token, address=None)  # the CLI has the database
    console.print(
        f"{v.partner_name} asks {v.organization} to trial {', '.join(v.services)} "
        f"(expires {v.expires_at:%Y-%m-%d %H:%M} UTC). You: {v.recipient_email}"
        f"{' (full administrator)' if v.recipient_is_full_admin else ''}.",
        highlight=False,
    )
    for p in v.pending_requests:
        console.print(f"  pending: {p.partner_name}: {', '.join(p.services)}", highlight=False)


@consent_app.command("accept")
def consent_accept(
    token: TokenArg,
    full_admin: Annotated[
        bool,
        typer.Option("--full-admin/--provisioning-only", help="Access the partner gets (K3)"),
    ] = True,
    database_url: DatabaseOpt = None,
) -> None:
    """Accept the trial as a full administrator of the organization (rules K2, K3)."""
    with open_context(database_url) as ctx:
        v = consent.decide(
            ctx,
            token,
            ConsentDecision(decision="accept", grant_full_admin=full_admin),
            address=None,
        )
        console.print(f"Accepted: the trial is now {v.status_label.lower()}.", highlight=False)


@consent_app.command("decline")
def consent_decline(token: TokenArg, database_url: DatabaseOpt = None) -> None:
    """Decline the trial request (rule K6: it ends at once)."""
    with open_context(database_url) as ctx:
        consent.decide(ctx, token, ConsentDecision(decision="decline"), address=None)
        console.print("Declined: the request is cancelled.")


@customer_app.command("assign")
def customer_assign(
    customer_id: Annotated[str, typer.Argument(help="The customer id (cus_…)")],
    as_: AsOpt,
    admin: Annotated[str, typer.Option(help="Email of the administrator to assign")],
    remove: Annotated[bool, typer.Option("--remove", help="Unassign instead")] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Assign a customer to one of your administrators, or take it away (rule P2)."""
    with open_context(database_url) as ctx:
        actor = acting(ctx, as_)
        admin_id = acting(ctx, admin).admin_id
        if remove:
            customers.unassign_customer(ctx, actor, customer_id, admin_id)
        else:
            customers.assign_customer(ctx, actor, customer_id, admin_id)
        verb = "no longer manages" if remove else "now manages"
        console.print(f"{admin} {verb} {customer_id}.", highlight=False)
