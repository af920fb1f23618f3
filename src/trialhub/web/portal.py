"""What every portal page stands on: the signed-in session (cookie), the CSRF check every
page POST passes, the redirect to sign-in, and rendering inside `base.html`.

- The session cookie `trialhub_session` is HttpOnly, SameSite=Lax, Secure over https, path /.
- CSRF: a synchronizer token per session (hidden field `csrf_token`); before sign-in a
  token bound to a random cookie (`trialhub_presession`, HMAC with the server's secret).
  A POST also fails when its `Origin` or `Sec-Fetch-Site` says another site sent it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from trialhub.domain.errors import Unauthenticated
from trialhub.domain.roles import WRITE_ACTIONS, Action, reach
from trialhub.services import accounts
from trialhub.services.accounts import SessionActor
from trialhub.services.kernel import Actor, Context
from trialhub.web.templating import templates

SESSION_COOKIE = "trialhub_session"
PRESESSION_COOKIE = "trialhub_presession"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """A portal page was asked for without a session: answered by a redirect to /signin."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class CsrfRefused(Exception):
    """A page POST without the right token or from another site: 403, nothing changed."""


def install(app: FastAPI) -> None:
    app.add_exception_handler(SignInRequired, _to_sign_in)
    app.add_exception_handler(CsrfRefused, _refused)


def _to_sign_in(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    return RedirectResponse(f"/signin?next={quote(error.next_path, safe='/')}", status_code=303)


def _refused(request: Request, error: Exception) -> Response:
    html = templates().get_template("error.html").render(problem=FORM_EXPIRED)
    return HTMLResponse(html, status_code=403)


FORM_EXPIRED = {
    "status": 403,
    "title": "Forbidden",
    "detail": "The form expired or came from another site; reload the page and try again.",
}


def ctx_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def current_session(request: Request) -> SessionActor | None:
    """The open session of this browser, or None (looked up once per request)."""
    if hasattr(request.state, "portal_session"):
        found: SessionActor | None = request.state.portal_session
        return found
    token = request.cookies.get(SESSION_COOKIE)
    found = None
    if token:
        try:
            found = accounts.actor_for_session(ctx_of(request), token)
        except Unauthenticated:
            found = None
    request.state.portal_session = found
    return found


def require_session(request: Request) -> SessionActor:
    """Every portal page: signed in, or redirected to /signin?next=<this page>."""
    found = current_session(request)
    if found is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # a form posted after the session ended: back home, not to a page that only posts
        raise SignInRequired(target if request.method == "GET" else "/customers")
    return found


Signed = Annotated[SessionActor, Depends(require_session)]


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a local path only (no scheme, host or `//`), else home."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/customers"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\\\r\n\t"):
        return "/customers"
    return value


def home_for(actor: Actor) -> str:
    """Where an administrator's portal starts: the customer list for a partner's, the
    device extension queue for the trials team, which has no customer list (rule P2)."""
    if actor.is_operator and not actor.is_partner_admin:
        return "/devices/extension-requests"
    return "/customers"


# ---- CSRF --------------------------------------------------------------------------------


def presession_token(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"presession:{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_token_for(request: Request, response_cookies: dict[str, str]) -> str:
    """The token forms on this page carry: the session's, or one bound to the pre-session
    cookie (set on the response when the browser has none yet)."""
    found = current_session(request)
    if found is not None:
        return found.csrf_token
    nonce = request.cookies.get(PRESESSION_COOKIE) or response_cookies.get(PRESESSION_COOKIE)
    if not nonce:
        nonce = secrets.token_urlsafe(24)
        response_cookies[PRESESSION_COOKIE] = nonce
    return presession_token(request.app.state.secret, nonce)


async def check_csrf(request: Request) -> None:
    """The one CSRF check of every portal POST (`dependencies=[CsrfChecked]`)."""
    require_same_site(request)
    form = await request.form()  # Starlette keeps it: the route's Form() fields read it again
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent:
        raise CsrfRefused
    found = await run_in_threadpool(current_session, request)  # a database read
    if found is not None:
        expected = found.csrf_token
    else:
        nonce = request.cookies.get(PRESESSION_COOKIE)
        if not nonce:
            raise CsrfRefused
        expected = presession_token(request.app.state.secret, nonce)
    # bytes: compare_digest refuses str with non-ASCII characters
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused


def require_same_site(request: Request) -> None:
    """A POST whose browser says another site sent it is refused (Fetch Metadata, Origin).
    Browsers send at least one of them; a client that sends neither still needs the token."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfRefused
    # the host only: behind a TLS proxy not declared trusted the scheme seen here is http.
    # "null": our Referrer-Policy (no-referrer) makes browsers send that on every form post,
    # so it proves nothing either way; Sec-Fetch-Site and the token still decide
    origin = request.headers.get("origin")
    if origin not in (None, "null") and urlsplit(origin).netloc != request.url.netloc:
        raise CsrfRefused


CsrfChecked = Depends(check_csrf)
SameSiteOnly = Depends(require_same_site)


def client_address(request: Request) -> str:
    """The socket peer, or what a trusted proxy says it is (`TRIALHUB_FORWARDED_ALLOW_IPS`)."""
    return request.client.host if request.client else ""


def set_cookie(request: Request, response: Response, name: str, value: str, **kw: Any) -> None:
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
        **kw,
    )


# ---- rendering ---------------------------------------------------------------------------


def can(actor: Actor | None, right: str) -> bool:
    """Whether the actor's roles allow the action (rules P1, P2): templates show an action
    only when it does; the service checks again when the form is posted."""
    if actor is None or not actor.is_partner_admin:
        return False
    action = Action(right)
    if reach(actor.roles, action) is None:
        return False
    return action not in WRITE_ACTIONS or actor.partner_certified


def render(request: Request, name: str, *, status_code: int = 200, **values: Any) -> HTMLResponse:
    """A page inside base.html: the session, CSRF token, sandbox clock and mailbox link."""
    ctx = ctx_of(request)
    cookies: dict[str, str] = {}
    found = current_session(request)
    html = (
        templates()
        .get_template(name)
        .render(
            me=found.actor if found else None,
            csrf=csrf_token_for(request, cookies),
            can=lambda right: can(found.actor if found else None, right),
            sandbox=ctx.sandbox,
            now=ctx.now() if ctx.sandbox else None,
            mailbox=ctx.local_mailbox,
            path=request.url.path,
            **values,
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    for cookie, value in cookies.items():
        set_cookie(request, response, cookie, value)
    return response
