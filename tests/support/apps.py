"""One FastAPI app per test process, pointed at each test's context.

`create_app` is cheap, but the app's first request is not: FastAPI 0.165 builds every
included route's dependants and validators lazily, per app, about 150 ms of CPU for our
~110 routes. The suite used to pay that in some 600 tests (a third of its CPU time). The
app keeps its context only in `app.state` (`ctx`, `secret`: `api/deps.py`,
`web/portal.py`; `tests/api/test_smoke.py` checks that nothing else is kept there), so
pointing a built app at another context gives the app `create_app(ctx)` would build.

Use `create_app` itself where a test needs two apps alive at once (several servers on one
database, `tests/api/test_throttle.py`).
"""

from __future__ import annotations

from fastapi import FastAPI

from trialhub.api.app import create_app
from trialhub.services.kernel.context import Context

_built: dict[str | None, tuple[FastAPI, int]] = {}


def app_for(ctx: Context, *, forwarded_allow_ips: str | None = None) -> FastAPI:
    """The process's app for this proxy setting, now serving `ctx`."""
    app = _built.get(forwarded_allow_ips)
    if app is None:
        app = _built[forwarded_allow_ips] = create_app(ctx, forwarded_allow_ips=forwarded_allow_ips)
    app.state.ctx = ctx
    app.state.secret = ctx.secret_key
    return app
