"""Serving, the database schema and the demo world."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from trialhub.cli.common import DatabaseOpt, console, database_url, open_context, redact
from trialhub.services import demo
from trialhub.services.context import Context
from trialhub.settings import Settings
from trialhub.store.db import Database, upgrade

app = typer.Typer()
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


@app.command()
def serve(
    database_url_opt: DatabaseOpt = None,
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
    url = database_url(database_url_opt)
    upgrade(url)
    db = Database.open(url)
    bind_host = host or settings.host
    bind_port = port or settings.port
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    public_url = settings.public_url or f"http://{shown}:{bind_port}"
    ctx = Context(db=db, public_url=public_url, sandbox=settings.sandbox)
    if demo_data:
        _print_demo(demo.ensure_demo(ctx), bind_port)
    console.print(f"Database: {db.dialect} ({redact(url)})")
    console.print(f"trialhub is running at [bold]http://{shown}:{bind_port}[/] (API docs at /docs)")
    logging.basicConfig(level=settings.log_level.upper())
    uvicorn.run(create_app(ctx), host=bind_host, port=bind_port, log_level=settings.log_level)


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
    database_url_opt: DatabaseOpt = None,
    revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
) -> None:
    """Apply the migrations (the only way the schema is ever created)."""
    url = database_url(database_url_opt)
    upgrade(url, revision)
    console.print(f"Database at {redact(url)} is at revision {revision}.")


@app.command("demo")
def demo_command(database_url_opt: DatabaseOpt = None) -> None:
    """Create the demo world (operator, partner, organizations) and print fresh tokens."""
    with open_context(database_url_opt) as ctx:
        _print_demo(demo.ensure_demo(ctx))
