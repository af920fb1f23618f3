"""The landing page at /, which points at the API and at the portal's sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from trialhub import __version__
from trialhub.web.portal import current_session, home_for
from trialhub.web.templating import templates

__all__ = ["router", "templates"]

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def landing(request: Request) -> Response:
    """The landing page; signed in, the portal's home (the customer list) instead."""
    found = current_session(request)
    if found is not None:
        return RedirectResponse(home_for(found.actor), status_code=303)
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
async def healthz() -> dict[str, str]:
    """Async: it reads nothing, so it answers on the event loop; a plain `def` cost two
    trips to the thread pool, for the call and for checking its answer (issue 11)."""
    return {"status": "ok"}
