"""The local mailbox in the browser: /mailbox lists the emails, /mailbox/{id} shows one.

Only where the composition root serves it (demo and sandbox, never with SMTP): elsewhere
every /mailbox path answers 404 before anything else is looked at."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from trialhub.api.params import RowId
from trialhub.services import messaging
from trialhub.web.pages import templates


def _served(request: Request) -> None:
    messaging.require_served(request.app.state.ctx)


router = APIRouter(include_in_schema=False, dependencies=[Depends(_served)])

# a web address in an email's plain text, without the punctuation that may close a sentence
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)]")


def text_with_links(text: str) -> list[tuple[str, bool]]:
    """The plain text cut into pieces, each with whether it is a web address: the page makes
    those links, since the links of the HTML part cannot open anything from its sandbox (a
    consent link must be followable from the mailbox)."""
    parts: list[tuple[str, bool]] = []
    at = 0
    for found in _URL.finditer(text):
        parts += [(text[at : found.start()], False), (found.group(), True)]
        at = found.end()
    return [*parts, (text[at:], False)]


@router.get("/mailbox", response_class=HTMLResponse)
def mailbox_list(
    request: Request, to: Annotated[str | None, Query(max_length=320)] = None
) -> HTMLResponse:
    ctx = request.app.state.ctx
    mails = messaging.list_mailbox(ctx, recipient=to, limit=200)
    html = templates().get_template("mailbox.html").render(mails=mails, to=to or "")
    return HTMLResponse(html)


@router.get("/mailbox/{mail_id}", response_class=HTMLResponse)
def mailbox_item(request: Request, mail_id: RowId) -> HTMLResponse:
    ctx = request.app.state.ctx
    mail = messaging.get_mail(ctx, mail_id)
    page = templates().get_template("mail.html").render(mail=mail, parts=text_with_links(mail.text))
    return HTMLResponse(page)


# the email's own HTML, framed by mail.html: inline styles are what emails are made of, so
# this one response gets a CSP of its own: no script, no request anywhere, framed only here
EMAIL_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


@router.get("/mailbox/{mail_id}/html", response_class=HTMLResponse)
def mailbox_item_html(request: Request, mail_id: RowId) -> HTMLResponse:
    mail = messaging.get_mail(request.app.state.ctx, mail_id)
    headers = {"Content-Security-Policy": EMAIL_CSP, "X-Frame-Options": "SAMEORIGIN"}
    return HTMLResponse(mail.html, headers=headers)
