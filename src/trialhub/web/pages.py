"""The landing page at /, until the partner portal exists."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from trialhub import __version__

router = APIRouter(include_in_schema=False)


@cache
def templates() -> Environment:
    return Environment(
        loader=PackageLoader("trialhub.web", "templates"), autoescape=select_autoescape()
    )


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> HTMLResponse:
    ctx = request.app.state.ctx
    html = (
        templates()
        .get_template("landing.html")
        .render(
            version=__version__,
            sandbox=ctx.sandbox,
            database=ctx.db.dialect,
            mailbox=ctx.local_mailbox,
            # the address this request reached, port included (not a hard-coded 8000)
            base_url=str(request.base_url).rstrip("/"),
        )
    )
    return HTMLResponse(html)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
