"""Consent links are credentials (rule K2): the raw token lives in the email only. The outbox
keeps it as the message's secret until the email is sent, never in the payload that
operators see, and a link that stopped working is never mailed (issue 8 item 8)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import MetaData, select

from tests.conftest import World
from tests.support.factories import links, make_org, request_consent
from trialhub.clock import MovableClock
from trialhub.services.demo import SYSTEM_OPERATOR
from trialhub.services.messaging import mailbox, outbox
from trialhub.services.messaging.delivery import NOT_SENT_LINK
from trialhub.services.trials import requests as consent
from trialhub.store.repositories import Scope


def _every_row_but_the_mailbox(world: World) -> str:
    """Every value of every table, as text (the mailbox holds the delivered emails)."""
    tables = MetaData()
    tables.reflect(world.ctx.db.engine)
    out = []
    with world.ctx.db.engine.connect() as conn:
        for name, table in tables.tables.items():
            if name != "mailbox":
                out.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(out)


def test_the_raw_token_is_only_in_the_delivered_email(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    org = make_org(sqlite_world.ctx, full=("boss@globex.example",))
    request_consent(sqlite_client, sqlite_world, org, "boss@globex.example")
    listed = outbox.list_messages(sqlite_world.ctx, SYSTEM_OPERATOR)
    assert all("consent_url" not in m.payload for m in listed)  # the operator's view
    token = links(sqlite_world.ctx)["boss@globex.example"]  # delivered to the mailbox
    demo = replace(sqlite_world.ctx, local_mailbox=True)  # the mailbox of a demo server
    (mail,) = mailbox.list_mailbox(demo, recipient="boss@globex.example")
    assert token in mailbox.get_mail(demo, mail.id).text  # the email has it
    assert token not in _every_row_but_the_mailbox(sqlite_world)  # and nothing else does
    listed = outbox.list_messages(sqlite_world.ctx, SYSTEM_OPERATOR)
    assert token not in str([m.model_dump() for m in listed])
    assert sqlite_client.get(f"/v1/consent/{token}").status_code == 200  # and it works


def test_a_request_cancelled_before_its_email_went_sends_no_link(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    org = make_org(sqlite_world.ctx, full=("boss@globex.example",), others=("it@globex.example",))
    trial = request_consent(sqlite_client, sqlite_world, org, "it@globex.example")
    consent.cancel(sqlite_world.ctx, sqlite_world.sales_full.actor, trial["id"])
    assert links(sqlite_world.ctx) == {}  # the worker ran: no consent email went out
    with sqlite_world.ctx.uow(Scope.system()) as uow:
        requests = [m for m in uow.outbox.all() if m.template == "consent_request"]
        assert len(requests) == 2
        for m in requests:
            assert (m.sent_at is not None, m.last_error, m.secret) == (True, NOT_SENT_LINK, None)


def test_a_resend_before_delivery_mails_only_the_new_links(
    sqlite_client: TestClient, sqlite_world: World, clock: MovableClock
) -> None:
    org = make_org(sqlite_world.ctx, full=("boss@globex.example",))
    trial = request_consent(sqlite_client, sqlite_world, org, "boss@globex.example")
    clock.advance(timedelta(minutes=5))
    consent.resend(sqlite_world.ctx, sqlite_world.sales_full.actor, trial["id"])
    token = links(sqlite_world.ctx)["boss@globex.example"]
    demo = replace(sqlite_world.ctx, local_mailbox=True)  # the mailbox of a demo server
    mails = mailbox.list_mailbox(demo, recipient="boss@globex.example")
    assert len(mails) == 1  # the replaced link was never mailed
    assert sqlite_client.get(f"/v1/consent/{token}").status_code == 200
