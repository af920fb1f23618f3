"""Security headers on every response, and secrets in URLs kept out of the access log.

One pure ASGI middleware, wrapped around the whole app (outside Starlette's error handling,
so a 500 carries the headers too). The consent links carry a token that accepts a trial for
whoever holds it: their pages are never cached and their paths never logged.
"""

from __future__ import annotations

import logging
import re

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# nothing inline (no script, no style), nothing from another origin, never framed
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
# a token in the URL (consent), other people's emails (mailbox), API answers that may
# carry secrets (a new API token, a webhook secret): no browser or proxy keeps a copy
NO_STORE = ("/v1/", "/consent/", "/mailbox", "/password/reset/")

# /consent/<token> (the page) and /v1/consent/<token> (the API): rule K2's single-use token;
# /password/reset/<token>: a password-reset link
_TOKEN_IN_PATH = re.compile(r"(/consent/|/password/reset/)[^/?\s\"]+")


class SecurityHeaders:
    """Adds the headers a response does not set itself (a page may set a narrower CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        # uvicorn sets the scheme from X-Forwarded-Proto when the proxy is trusted
        # (TRIALHUB_FORWARDED_ALLOW_IPS, see api.app): HSTS only over https (RFC 6797)
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                if path.startswith(NO_STORE):
                    headers["cache-control"] = "no-store"
                if https:
                    headers["strict-transport-security"] = HSTS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def redact_path(path: str) -> str:
    """The path with the consent or reset token replaced, for logs."""
    return _TOKEN_IN_PATH.sub(r"\1***", path)


class RedactTokens(logging.Filter):
    """uvicorn's access log records carry the path as an argument: replace the token there."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    """Installs the filter on uvicorn's access logger; call after uvicorn set up logging."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())
