"""Conversion to a paid order from the command line (rules V1-V5)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import (
    AsOpt,
    DatabaseOpt,
    acting,
    checked_input,
    console,
    every_page,
    open_context,
)
from trialhub.cli.trials import trial_app
from trialhub.services import conversion
from trialhub.services.conversion.schemas import (
    ConvertTrial,
    DecideConversion,
    OrderLineInput,
    OrderView,
)

order_app = typer.Typer(
    help="Paid orders and tier-2 conversion requests (rules V1-V5).", no_args_is_help=True
)


def print_order(o: OrderView) -> None:
    bought = ", ".join(f"{line.quantity} x {line.name}" for line in o.services)
    state = {
        "completed": "completed: the trial is converted",
        "requested": "requested: waiting for the distributor",
        "declined": "declined by the distributor",
    }.get(o.status, o.status)
    console.print(f"Order [bold]{o.id}[/] for trial {o.trial_id}: {bought} · {state}")
    if o.lost_services:
        console.print(f"  lost: {', '.join(o.lost_services)}")
    if o.note:
        console.print(f"  note: {o.note}")


@trial_app.command("convert")
def convert(
    trial_id: Annotated[str, typer.Argument(help="The trial id (trl_…)")],
    as_: AsOpt,
    service: Annotated[list[str], typer.Option(help="CODE or CODE:QUANTITY to buy (repeatable)")],
    provisioning_email: Annotated[
        str, typer.Option("--provisioning-email", help="A partner or customer administrator")
    ],
    new_org: Annotated[
        bool, typer.Option("--new-org", help="The email is meant to create a new organization")
    ] = False,
    lose: Annotated[
        bool, typer.Option("--lose-services", help="Confirm: services left out are lost")
    ] = False,
    database_url: DatabaseOpt = None,
) -> None:
    """Convert the trial to a paid order; tier 2 files a request for its distributor (V1-V5)."""
    with checked_input():
        lines = []
        for value in service:
            code, _, quantity = value.partition(":")
            count = int(quantity) if quantity.isdigit() else None
            lines.append(OrderLineInput(code=code, quantity=count))
        cmd = ConvertTrial(
            services=lines,
            provisioning_email=provisioning_email,
            confirm_new_organization=new_org,
            confirm_lost_services=lose,
        )
    with open_context(database_url) as ctx:
        print_order(conversion.convert_trial(ctx, acting(ctx, as_), trial_id, cmd))


@order_app.command("list")
def list_orders(
    as_: AsOpt,
    status: Annotated[str | None, typer.Option(help="requested, completed or declined")] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Your orders and requests, or a distributor's queue."""
    with open_context(database_url) as ctx:
        actor = acting(ctx, as_)
        found = every_page(
            lambda cursor: conversion.list_orders(ctx, actor, status=status, cursor=cursor)
        )
    table = Table(title="Orders")
    for column in ("Order", "Trial", "Services", "Lost", "Status", "Created (UTC)"):
        table.add_column(column)
    for o in found:
        table.add_row(
            o.id,
            o.trial_id,
            ", ".join(f"{line.code}:{line.quantity}" for line in o.services),
            ", ".join(o.lost_services),
            o.status,
            o.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@order_app.command("decide")
def decide(
    order_id: Annotated[str, typer.Argument(help="The order id (ord_…)")],
    as_: AsOpt,
    approve: Annotated[bool, typer.Option("--approve/--decline")],
    note: Annotated[str | None, typer.Option()] = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Distributor: process (convert) or decline a tier-2 partner's request (rule V1)."""
    with checked_input():
        cmd = DecideConversion(approve=approve, note=note)
    with open_context(database_url) as ctx:
        print_order(conversion.decide_request(ctx, acting(ctx, as_), order_id, cmd))
