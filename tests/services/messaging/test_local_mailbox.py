"""The local mailbox is a development tool: served only by demo and sandbox servers without
SMTP, because whoever reads it can accept any partner's consent request (rule K2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, make_world, new_customer_body
from tests.support.apps import app_for
from trialhub.bootstrap import build_context, describe_email
from trialhub.notify.mailbox import MailboxMailer
from trialhub.notify.smtp import SmtpMailer
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.messaging import delivery, outbox
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.settings import Settings


def test_a_server_that_does_not_serve_it_answers_404(sqlite_world: World) -> None:
    ctx = sqlite_world.ctx
    ctx.mailer = MailboxMailer(ctx.db, ctx.clock)
    client = TestClient(app_for(ctx))
    paths = ("/mailbox", "/mailbox/1", "/mailbox/1/html", "/mailbox/abc", "/mailbox?to=x@a.b")
    for path in paths:
        got = client.get(path)
        assert got.status_code == 404, path
        assert got.headers["content-type"].startswith("text/html")
    assert 'href="/mailbox"' not in client.get("/").text  # the landing page hides the link
    ctx.local_mailbox = True
    assert client.get("/mailbox").status_code == 200
    assert 'href="/mailbox"' in client.get("/").text


@pytest.mark.parametrize(
    ("demo", "sandbox", "smtp", "served"),
    [
        (False, False, None, False),  # a plain server: nothing readable locally
        (True, False, None, True),  # serve --demo (make serve)
        (False, True, None, True),  # a sandbox database (make sandbox)
        (True, False, "127.0.0.1", False),  # SMTP configured: off even in demo
        (True, True, "127.0.0.1", False),
    ],
)
def test_the_composition_root_decides_once(
    tmp_path: Path, demo: bool, sandbox: bool, smtp: str | None, served: bool
) -> None:
    settings = Settings(smtp_host=smtp)
    ctx = build_context(
        settings, database_url=f"sqlite:///{tmp_path}/x.db", demo=demo, sandbox=sandbox or None
    )
    try:
        assert ctx.local_mailbox is served
        assert isinstance(ctx.mailer, SmtpMailer) is (smtp is not None)
        assert isinstance(ctx.mailer, MailboxMailer) is served
        with TestClient(app_for(ctx)) as client:
            assert client.get("/mailbox").status_code == (200 if served else 404)
            assert client.get("/mailbox/1").status_code == 404  # none there, or not served
    finally:
        ctx.db.dispose()


def test_without_smtp_or_mailbox_emails_wait_in_the_outbox(tmp_path: Path) -> None:
    """Before, a plain server marked them sent into a mailbox nobody could read."""
    ctx = build_context(Settings(), database_url=f"sqlite:///{tmp_path}/x.db", demo=False)
    try:
        note = describe_email(Settings(), ctx)  # what `trialhub serve` prints at start-up
        assert "the local mailbox is off" in note
        assert "waiting in the outbox until TRIALHUB_SMTP_HOST is set" in note
        world = make_world(ctx)
        body = StartTrial.model_validate(new_customer_body())
        trials.start_trial(ctx, world.sales_full.actor, body)
        assert ctx.mailer is None
        assert delivery.deliver(ctx).sent == 0
        (waiting,) = outbox.list_messages(ctx, SYSTEM_OPERATOR)
        assert waiting.sent_at is None
    finally:
        ctx.db.dispose()


def test_a_cli_context_follows_the_database(tmp_path: Path) -> None:
    """`trialhub mail` and `trialhub worker` have no --demo: the demo world decides."""
    url = f"sqlite:///{tmp_path}/x.db"
    plain = build_context(Settings(), database_url=url)
    assert plain.local_mailbox is False
    from trialhub.services import demo

    demo.ensure_demo(plain)
    plain.db.dispose()
    again = build_context(Settings(), database_url=url)
    assert again.local_mailbox is True
    again.db.dispose()
