"""An API token's "last used" time is written at most once a minute (issue 11): a request
whose token was marked recently opens no write transaction, GETs included."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import World
from tests.support.statements import statements
from trialhub.clock import MovableClock
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
