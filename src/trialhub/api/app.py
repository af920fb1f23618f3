"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI

from trialhub import __version__
from trialhub.api import problems
from trialhub.api.routers import (
    accounts,
    consent,
    customers,
    devices,
    me,
    orders,
    organizations,
    sandbox,
    trial_ops,
    trials,
    webhooks,
    worker,
)
from trialhub.services.context import Context
from trialhub.web import consent_pages, mailbox_pages, pages


def create_app(ctx: Context) -> FastAPI:
    """One app per context; nothing happens at import time."""
    app = FastAPI(
        title="trialhub",
        version=__version__,
        description=(
            "Start and run service trials for a partner's customers. Authenticate with "
            "`Authorization: Bearer <token>`. Errors are RFC 9457 problem+json with `code`, "
            "`rule` and `errors[].field`. Every POST accepts an `Idempotency-Key`."
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url="/redoc",
    )
    app.state.ctx = ctx
    # signs form CSRF tokens; a restart only invalidates forms left open
    app.state.secret = ctx.secret_key
    problems.install(app)
    for router in (
        me.router,
        accounts.router,
        organizations.router,
        trials.router,
        trial_ops.router,
        customers.router,
        consent.router,
        sandbox.router,
        webhooks.router,
        devices.router,
        orders.router,
        worker.router,
    ):
        app.include_router(router)
    app.include_router(pages.router)
    app.include_router(mailbox_pages.router)
    app.include_router(consent_pages.router)
    return app
