"""Serving, the database schema and the demo world."""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Annotated

import typer

from trialhub.bootstrap import build_context, describe_email
from trialhub.cli.common import (
    DatabaseOpt,
    command_line,
    console,
    database_url,
    is_relative_sqlite,
    open_context,
    redact,
)
from trialhub.cli.processes import freeze_startup_objects, run_server_processes
from trialhub.services import demo, lifecycle
from trialhub.services.kernel import Context
from trialhub.settings import Settings
from trialhub.store.db import upgrade
from trialhub.worker import Worker

app = typer.Typer()
db_app = typer.Typer(help="The database schema.", no_args_is_help=True)


PortOpt = Annotated[int | None, typer.Option(envvar="TRIALHUB_PORT", min=1, max=65535, help="Port")]
DemoOpt = Annotated[
    bool, typer.Option("--demo/--no-demo", help="Create the demo partner and print logins")
]
SandboxOpt = Annotated[
    bool,
    typer.Option(
        "--sandbox", envvar="TRIALHUB_SANDBOX", help="Run on a sandbox clock you can move"
    ),
]
WorkerOpt = Annotated[
    bool, typer.Option("--worker/--no-worker", help="Run the lifecycle worker in-process")
]
ProcessesOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        min=1,
        envvar="TRIALHUB_SERVER_PROCESSES",
        help="Server processes (one per core); the lifecycle worker still runs once, here",
    ),
]


@app.command()
def serve(
    database_url_opt: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: PortOpt = None,
    demo_data: DemoOpt = False,
    sandbox_mode: SandboxOpt = False,
    run_worker: WorkerOpt = True,
    processes: ProcessesOpt = 1,
) -> None:
    """Migrate the database and serve the API and pages; the worker runs alongside."""
    settings = Settings()
    url = database_url(database_url_opt)
    bind_host = host or settings.host
    bind_port = settings.port if port is None else port
    shown = "127.0.0.1" if bind_host in ("0.0.0.0", "::") else bind_host
    ctx = build_context(
        settings,
        database_url=url,
        public_url=settings.public_url or f"http://{shown}:{bind_port}",
        sandbox=True if sandbox_mode else None,
        demo=demo_data,
    )
    logging.basicConfig(level=settings.log_level.upper())
    _announce(ctx, settings, url, f"http://{shown}:{bind_port}", demo_data=demo_data)
    stop = None
    if run_worker:
        _, stop = Worker(ctx, interval=settings.worker_interval).start_thread()
        # the server processes never run it: once per database server, here (issue 11)
        console.print(f"Lifecycle worker: running in process {os.getpid()}", highlight=False)
    try:
        if processes > 1:
            run_server_processes(
                ctx, settings, url, bind_host, bind_port, workers=processes, demo=demo_data
            )
        else:
            _run_server(ctx, settings, bind_host, bind_port)
    finally:
        if stop is not None:
            stop.set()


def _announce(
    ctx: Context, settings: Settings, url: str, base_url: str, *, demo_data: bool
) -> None:
    """What the server prints as it starts: where it runs, the demo logins, the database,
    the sandbox commands and where emails go."""
    # the served address comes first: it is the line people (and scripts) look for
    console.print(f"trialhub is running at [bold]{base_url}[/] (API docs at /docs)")
    if demo_data:
        _print_demo(ctx, demo.ensure_demo(ctx), base_url)
    console.print(f"Database: {ctx.db.dialect} ({redact(url)})", highlight=False)
    if ctx.sandbox:
        _print_sandbox_hints(ctx.now(), url, mailbox=not settings.smtp_host)
    console.print(describe_email(settings, ctx), highlight=False, soft_wrap=True)


def _run_server(ctx: Context, settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from trialhub.api.app import create_app
    from trialhub.api.security import redact_access_log

    config = uvicorn.Config(
        create_app(ctx, forwarded_allow_ips=settings.forwarded_allow_ips),
        host=host,
        port=port,
        log_level=settings.log_level,
        proxy_headers=False,  # the app decides whom to believe (TRIALHUB_FORWARDED_ALLOW_IPS)
    )
    redact_access_log()  # after uvicorn configured its loggers: no consent token in logs
    freeze_startup_objects()
    uvicorn.Server(config).run()


def _print_sandbox_hints(now: datetime, url: str, *, mailbox: bool) -> None:
    """The exact commands that act on this server's database from another terminal."""
    where = " in this directory" if is_relative_sqlite(url) else ""
    console.print(
        f"Sandbox clock: {now:%Y-%m-%d %H:%M} UTC. From another terminal{where}:", highlight=False
    )
    lines = [
        (command_line("clock", "advance", "7d", url=url), "moves it (or POST /v1/sandbox/clock)")
    ]
    if mailbox:
        lines.append((command_line("mail", url=url), "the local mailbox"))
    width = max(len(command) for command, _ in lines)
    for command, what in lines:
        console.print(
            f"  {command:<{width}}  # {what}", soft_wrap=True, highlight=False, markup=False
        )


def _print_demo(ctx: Context, logins: list[demo.DemoLogin], base_url: str) -> None:
    """Plain lines, so that a narrow terminal never folds a token."""
    console.print(
        f"[bold]Demo sign-ins[/] (local data only) at {base_url}/signin:", highlight=False
    )
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
    console.print("[bold]Demo organizations[/] (start a trial with one of these emails):")
    for org in demo.demo_organizations(ctx):
        console.print(f"  {org.name} ({org.region}), {org.id}", soft_wrap=True, highlight=False)
        for email, meets in org.emails:
            console.print(f"    {email:<22} {meets}", soft_wrap=True, highlight=False)
    sales = logins[0]
    console.print("Try:", style="bold")
    console.print(f"  export TOKEN={sales.token}", soft_wrap=True, highlight=False)
    console.print(
        f'  curl -s -H "Authorization: Bearer $TOKEN" {base_url}/v1/customers',
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
        _print_demo(ctx, demo.ensure_demo(ctx), ctx.public_url)


clock_app = typer.Typer(
    help="The sandbox clock (databases served with --sandbox).", no_args_is_help=True
)


@clock_app.command("show")
def clock_show(database_url_opt: DatabaseOpt = None) -> None:
    """What time it is on the sandbox clock."""
    with open_context(database_url_opt) as ctx:
        console.print(f"{lifecycle.read_clock(ctx).now:%Y-%m-%d %H:%M:%S} UTC")


@clock_app.command("advance")
def clock_advance(
    duration: Annotated[str, typer.Argument(help="7d, 12h, 30m, 2w or ISO 8601 (P7D)")],
    database_url_opt: DatabaseOpt = None,
) -> None:
    """Move the sandbox clock forward; every deadline on the way is applied, in order."""
    with open_context(database_url_opt) as ctx:
        r = lifecycle.move_clock(ctx, demo.SYSTEM_OPERATOR, advance=duration)
    console.print(
        f"Now {r.now:%Y-%m-%d %H:%M} UTC: applied {r.applied} deadlines "
        f"({r.obsolete} obsolete, {r.failed} failed) in {r.steps} steps.",
        highlight=False,
    )
    if r.waiting:
        # this command has no worker: delivering here could use other mail settings than
        # the server's, so the server's worker sends them, as it sends everything else
        console.print(
            f"{r.waiting} messages wait in the outbox: a running `trialhub serve` (or "
            "`trialhub worker`) sends them within seconds; with none running, run: "
            + command_line("worker", "--once", url=database_url(database_url_opt)),
            soft_wrap=True,
            highlight=False,
            markup=False,
        )
