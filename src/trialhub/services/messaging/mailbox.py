"""Reading the local mailbox: every email delivered without a mail server (development).

It holds every partner's emails, consent links included, so it is readable only where the
composition root turned it on (`ctx.local_mailbox`: demo and sandbox, never with SMTP)."""

from __future__ import annotations

import re
from datetime import datetime

from trialhub.domain.errors import NotFound
from trialhub.domain.records import MailboxEmail
from trialhub.services.kernel.context import Context
from trialhub.services.kernel.schemas import View
from trialhub.services.kernel.views import view_of
from trialhub.store.repositories import Scope

_LINK = re.compile(r"https?://\S+")


class MailView(View):
    id: int
    recipient: str
    subject: str
    created_at: datetime
    first_link: str | None = None


class MailDetail(MailView):
    text: str
    html: str
    message_id: str


def _view(m: MailboxEmail) -> MailView:
    link = _LINK.search(m.text)
    return view_of(MailView, m, id=m.id or 0, first_link=link.group(0) if link else None)


OFF = (
    "The local mailbox is off: it is served only on demo and sandbox databases "
    "(trialhub serve --demo or --sandbox), and never when TRIALHUB_SMTP_HOST is set."
)


def require_served(ctx: Context) -> None:
    if not ctx.local_mailbox:
        raise NotFound(OFF)


def list_mailbox(ctx: Context, *, recipient: str | None = None, limit: int = 100) -> list[MailView]:
    """Newest first."""
    require_served(ctx)
    with ctx.uow(Scope.system("mailbox")) as uow:
        wanted = recipient.strip().lower() if recipient else None
        return [_view(m) for m in uow.mailbox.newest(recipient=wanted, limit=limit)]


def get_mail(ctx: Context, mail_id: int) -> MailDetail:
    require_served(ctx)
    with ctx.uow(Scope.system("mailbox")) as uow:
        m = uow.mailbox.get(mail_id)
        if m is None:
            raise NotFound("No such email.")
        return MailDetail(
            **_view(m).model_dump(), text=m.text, html=m.html, message_id=m.message_id
        )
