"""Webhook subscriptions from the command line: list them, and enable a disabled one."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from trialhub.cli.common import AsOpt, DatabaseOpt, acting, console, open_context
from trialhub.services import messaging

webhook_app = typer.Typer(help="Your partner's webhook subscriptions.", no_args_is_help=True)
EndpointArg = Annotated[str, typer.Argument(help="The webhook id (whk_…)")]


@webhook_app.command("list")
def webhook_list(as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Every subscription with its health: backing off, failing since, disabled."""
    with open_context(database_url) as ctx:
        endpoints = messaging.list_endpoints(ctx, acting(ctx, as_))
    table = Table(title="Webhooks")
    for column in ("Id", "URL", "Events", "State"):
        table.add_column(column, overflow="fold")
    for e in endpoints:
        if e.disabled_at is not None:
            state = f"disabled ({e.disabled_reason or 'deleted'})"
        elif e.failing_since is not None:
            state = f"failing since {e.failing_since:%Y-%m-%d %H:%M}"
        else:
            state = "ok"
        table.add_row(e.id, e.url, ", ".join(e.event_types), state)
    console.print(table)


@webhook_app.command("enable")
def webhook_enable(endpoint_id: EndpointArg, as_: AsOpt, database_url: DatabaseOpt = None) -> None:
    """Deliver again to an endpoint disabled after failing for days."""
    with open_context(database_url) as ctx:
        view = messaging.enable_endpoint(ctx, acting(ctx, as_), endpoint_id)
    console.print(f"{view.id} is enabled: new events go to {view.url}.", highlight=False)
