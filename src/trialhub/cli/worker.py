"""The lifecycle worker: run it, or see what it has in hand (`trialhub worker status`)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from trialhub.cli.common import DatabaseOpt, console, database_url, open_context
from trialhub.services import demo
from trialhub.services.lifecycle import WorkerStatus, worker_status
from trialhub.settings import Settings

worker_app = typer.Typer(invoke_without_command=True)


@worker_app.callback()
def worker_command(
    typer_ctx: typer.Context,
    database_url_opt: DatabaseOpt = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit")] = False,
    interval: Annotated[float | None, typer.Option(help="Seconds between passes")] = None,
) -> None:
    """Apply due deadlines and deliver emails and webhooks; run as many as you like."""
    if typer_ctx.invoked_subcommand is not None:
        return
    import signal
    import threading

    from trialhub.bootstrap import build_context
    from trialhub.cli.processes import freeze_startup_objects
    from trialhub.worker import Worker

    settings = Settings()
    ctx = build_context(settings, database_url=database_url(database_url_opt))
    logging.basicConfig(level=settings.log_level.upper())
    worker = Worker(ctx, interval=interval or settings.worker_interval)
    if once:
        ticked, sent = worker.run_once()
        console.print(
            f"Applied {ticked.applied} deadlines ({ticked.obsolete} obsolete, "
            f"{ticked.failed} failed); sent {sent.sent} messages ({sent.failed} failed)."
        )
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    console.print(f"Worker running on {ctx.db.dialect}; Ctrl-C stops it.")
    # a batch builds thousands of objects: the collector's full passes then skip start-up's
    freeze_startup_objects()  # (a quarter of the CPU per deadline, issue 11)
    worker.run(stop)


@worker_app.command("status")
def status_command(database_url_opt: DatabaseOpt = None) -> None:
    """Deadlines pending, due and failing, with errors and next tries; the outbox."""
    with open_context(database_url_opt) as ctx:
        print_status(worker_status(ctx, demo.SYSTEM_OPERATOR))


def print_status(s: WorkerStatus) -> None:
    console.print(
        f"Deadlines: {s.deadlines_pending} pending, {s.deadlines_due} due now, "
        f"{s.deadlines_failing} failing ({s.deadlines_stuck} stuck: "
        f"{s.stuck_after_attempts} attempts or more). Now {s.now:%Y-%m-%d %H:%M:%S} UTC.",
        highlight=False,
    )
    if s.failing:
        table = Table(title="Failing deadlines (oldest first)")
        for column in ("Trial", "Deadline", "Due (UTC)", "Tries", "Next try (UTC)", "Error"):
            table.add_column(column, overflow="fold")
        for f in s.failing:
            table.add_row(
                f.trial_id,
                f.kind + (" [bold red](stuck)[/]" if f.stuck else ""),
                f"{f.due_at:%Y-%m-%d %H:%M}",
                str(f.attempts),
                f"{f.next_attempt_at:%Y-%m-%d %H:%M:%S}" if f.next_attempt_at else "next pass",
                escape(f.last_error or ""),  # an error message is text, not markup
            )
        console.print(table)
    outbox = Table(title="Outbox (unsent)")
    for column in ("Channel", "Pending", "Failing", "Oldest (UTC)"):
        outbox.add_column(column)
    for q in s.outbox:
        oldest = f"{q.oldest_created_at:%Y-%m-%d %H:%M}" if q.oldest_created_at else ""
        outbox.add_row(q.channel, str(q.pending), str(q.failing), oldest)
    if not s.outbox:
        outbox.add_row("(none)", "0", "0", "")
    console.print(outbox)
