"""The FastAPI application factory."""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from trialhub import __version__
from trialhub.api import problems, routing
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
from trialhub.api.security import SecurityHeaders
from trialhub.services.kernel import Context
from trialhub.web import (
    activity_pages,
    api_docs,
    auth_pages,
    consent_pages,
    customer_detail_pages,
    customer_pages,
    device_pages,
    device_team_pages,
    errors,
    mailbox_pages,
    pages,
    password_pages,
    portal,
    sandbox_pages,
    settings_pages,
    trial_action_pages,
    trial_form_pages,
    trial_setup_pages,
    wizard_pages,
)


class _App(FastAPI):
    forwarded_allow_ips: str | None = None

    def build_middleware_stack(self) -> ASGIApp:
        # outermost, around Starlette's ServerErrorMiddleware: a 500 gets the headers too
        stack: ASGIApp = SecurityHeaders(super().build_middleware_stack())
        if self.forwarded_allow_ips:
            # outside the headers: HSTS and the rate limits (rule X1) see the client's scheme
            # and address as a trusted proxy reports them
            # (uvicorn and Starlette type the same ASGI callables differently)
            proxied = ProxyHeadersMiddleware(
                cast(Any, stack), trusted_hosts=self.forwarded_allow_ips
            )
            stack = cast(ASGIApp, proxied)
        return stack


API_ROUTERS = (
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
)
PAGE_ROUTERS = (
    pages.router,
    auth_pages.router,
    password_pages.router,
    customer_pages.router,
    customer_detail_pages.router,
    trial_action_pages.router,
    trial_form_pages.router,
    activity_pages.router,
    device_pages.router,
    device_team_pages.router,
    settings_pages.router,
    sandbox_pages.router,
    mailbox_pages.router,
    consent_pages.router,
    api_docs.router,
    wizard_pages.router,
    trial_setup_pages.router,
)


def create_app(ctx: Context, *, forwarded_allow_ips: str | None = None) -> FastAPI:
    """One app per context; nothing happens at import time.

    The client address (rate limits, rule X1) and scheme (HSTS) are the socket's, unless
    the peer is one of `forwarded_allow_ips`, a proxy whose X-Forwarded-For and
    X-Forwarded-Proto are then believed: anyone else could send those headers.
    """
    app = _App(
        title="trialhub",
        version=__version__,
        description=(
            "Start and run service trials for a partner's customers. Authenticate with "
            "`Authorization: Bearer <token>`. Errors are RFC 9457 problem+json with `code`, "
            "`rule` and `errors[].field`. Every POST accepts an `Idempotency-Key`."
        ),
        openapi_url="/openapi.json",
        # /docs is web.api_docs (Swagger UI from a package, no inline script); ReDoc injects
        # inline styles as it runs, which the CSP refuses, so it is not served
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    # signs form CSRF tokens; a restart only invalidates forms left open
    app.state.secret = ctx.secret_key
    problems.install(app)
    errors.install(app)  # outside /v1 the same problems are shown as pages
    portal.install(app)  # pages redirect to sign-in; a form without its CSRF token is 403
    for router in (*API_ROUTERS, *PAGE_ROUTERS):
        routing.include_flat(app, router)
    # the pages' stylesheet and scripts, from packages: no CDN, nothing inline (CSP)
    app.mount("/static/swagger-ui", api_docs.swagger_ui_files(), name="swagger-ui")
    app.mount("/static", StaticFiles(packages=[("trialhub.web", "static")]), name="static")
    app.forwarded_allow_ips = forwarded_allow_ips
    routing.install(app)  # a request tries the routes its path may match, not all of them
    return app
