"""The command line (Typer + Rich): every use case, as the local operator or a named admin."""

from __future__ import annotations

import typer

from trialhub.cli import admins, devices, operations, orders, serving, trials, webhooks, worker

app = typer.Typer(
    help="trialhub: start and run service trials for your customers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.registered_commands += serving.app.registered_commands
app.registered_commands += trials.app.registered_commands
app.registered_commands += admins.app_mail.registered_commands
app.add_typer(serving.db_app, name="db")
app.add_typer(serving.clock_app, name="clock")
app.add_typer(worker.worker_app, name="worker")
app.add_typer(admins.partner_app, name="partner")
app.add_typer(admins.admin_app, name="admin")
app.add_typer(admins.org_app, name="org")
app.add_typer(trials.trial_app, name="trial")
app.add_typer(operations.customer_app, name="customer")
app.add_typer(operations.consent_app, name="consent")
app.add_typer(devices.device_app, name="device")
app.add_typer(orders.order_app, name="order")
app.add_typer(webhooks.webhook_app, name="webhook")


def main() -> None:
    app()
