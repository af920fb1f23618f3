"""An API token's "last used" time is written at most once a minute (issue 11): a request
whose token was marked recently opens no write transaction, GETs included."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from tests.conftest import World
from tests.support.statements import statements
from trialhub.clock import MovableClock
from trialhub.domain.errors import RateLimited, Unauthenticated
from trialhub.services.accounts import authenticate_token
from trialhub.store import tables

WRITES = ("INSERT", "UPDATE", "DELETE")


def last_used(world: World) -> datetime | None:
    t = tables.api_tokens.c
    stmt = select(t.last_used_at).where(t.admin_id == world.sales.actor.admin_id)
    with world.ctx.db.engine.connect() as conn:
        value = conn.execute(stmt).scalar_one()
    return value if isinstance(value, datetime) else None


def get_writes(client: TestClient, world: World) -> list[str]:
    with statements(world.ctx.db.engine) as sent:
        assert client.get("/v1/customers", headers=world.sales.headers).status_code == 200
    return [s for s in sent if s.lstrip().upper().startswith(WRITES)]


def test_a_fresh_token_is_not_written_and_a_stale_one_is(
    client: TestClient, world: World, clock: MovableClock
) -> None:
    interval = world.ctx.policy.token_touch_interval
    clock.advance(interval * 2)
    assert len(get_writes(client, world)) == 1  # stale (or never used): marked now
    marked = last_used(world)
    assert marked == clock.now()

    clock.advance(interval / 2)
    assert get_writes(client, world) == []  # fresh: a GET writes nothing at all
    assert last_used(world) == marked

    clock.advance(interval / 2 + timedelta(seconds=1))
    assert len(get_writes(client, world)) == 1  # stale again: marked once more
    assert last_used(world) == clock.now()


@pytest.mark.both_backends
def test_authenticating_is_one_statement_and_no_session(world: World) -> None:
    """Issue 11: every API request authenticates. The address's rate-limit counts (rule
    X1) and the token with its administrator and partner are one statement on a plain
    connection: one round trip; no ORM session is opened (a unit of work was a quarter of
    an authenticated GET's CPU)."""
    ctx = world.ctx
    token = world.sales_full.headers["Authorization"].split()[1]
    authenticate_token(ctx, token, address="198.51.100.7")  # marks the token: no write next
    orm: list[object] = []

    def note(state: object) -> None:
        orm.append(state)

    event.listen(Session, "do_orm_execute", note)
    try:
        with statements(ctx.db.engine) as sent:
            actor = authenticate_token(ctx, token, address="198.51.100.7")
    finally:
        event.remove(Session, "do_orm_execute", note)
    assert actor.admin_id == world.sales_full.actor.admin_id
    assert actor == world.sales_full.actor  # the same caller as the entities gave
    assert orm == []
    assert len(sent) == 1, sent  # the limits' counts and the token with its owner
    assert "rate_limit_counters" in sent[0]
    assert "api_tokens" in sent[0]


@pytest.mark.parametrize("column", ["revoked", "disabled"])
def test_a_revoked_token_or_a_disabled_administrator_authenticates_nobody(
    world: World, column: str
) -> None:
    """The one statement reads both: a token revoked, or its administrator disabled, is
    refused like an unknown one, and counted as a failed guess (rule X1)."""
    ctx = world.ctx
    token = world.sales_full.headers["Authorization"].split()[1]
    admin_id = world.sales_full.actor.admin_id
    if column == "revoked":
        stmt = tables.api_tokens.update().where(tables.api_tokens.c.admin_id == admin_id)
        stmt = stmt.values(revoked_at=ctx.now())
    else:
        stmt = tables.admins.update().where(tables.admins.c.id == admin_id)
        stmt = stmt.values(disabled_at=ctx.now())
    with ctx.db.engine.begin() as conn:
        conn.execute(stmt)
    with pytest.raises(Unauthenticated, match="not valid"):
        authenticate_token(ctx, token, address="198.51.100.8")
    with ctx.db.engine.connect() as conn:
        hits = conn.execute(select(func.sum(tables.rate_limit_counters.c.hits))).scalar()
    assert hits  # the failure counted against the address


@pytest.mark.both_backends
def test_past_the_limit_a_valid_token_is_refused_from_that_address(world: World) -> None:
    """Rule X1 with the counts and the token read together: the counts decide first, so a
    locked address gets 429 for a valid token too (a guess that hit is not told so), and
    another address is not locked."""
    ctx = world.ctx
    token = world.sales_full.headers["Authorization"].split()[1]
    (first, *_) = ctx.policy.failures_per_address
    for _ in range(first.failures):
        with pytest.raises(Unauthenticated):
            authenticate_token(ctx, "th_not-a-token", address="203.0.113.9")
    with pytest.raises(RateLimited) as refused:
        authenticate_token(ctx, token, address="203.0.113.9")
    assert 1 <= (refused.value.retry_after or 0) <= first.seconds
    assert authenticate_token(ctx, token, address="203.0.113.10") == world.sales_full.actor
