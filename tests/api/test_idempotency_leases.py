"""Idempotency keys are claimed for a short lease: a claim whose owner died is taken over by
a retry, and whoever loses its claim cannot commit what it did (so nothing is done twice)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.conftest import World, new_customer_body
from trialhub.clock import MovableClock
from trialhub.domain.errors import Conflict, ValidationFailed
from trialhub.services.kernel import idempotency
from trialhub.services.kernel.idempotency import Claim, StoredResponse
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store import tables

# the database is the subject (idempotency keys held by the store):
# on SQLite and PostgreSQL (tests/conftest.py)
pytestmark = pytest.mark.both_backends

KEY, HASH = "start-1", "a" * 64


def start_command() -> StartTrial:
    return StartTrial.model_validate(
        new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    )


def trial_count(world: World) -> int:
    with world.ctx.db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tables.trials)).scalar_one())


def run(world: World, claim: Claim | StoredResponse, cmd: StartTrial) -> str:
    """What the API does with a claim: the use case, then its answer in its transaction."""
    assert isinstance(claim, Claim)
    with claim.held.active():
        view = trials.start_trial(world.ctx, world.sales_full.actor, cmd)
    idempotency.finish(world.ctx, claim, 201, view.model_dump_json())
    return view.id


def test_a_dead_owners_claim_is_taken_over_after_its_lease(
    world: World, clock: MovableClock
) -> None:
    ctx, actor = world.ctx, world.sales_full.actor
    lease = ctx.policy.idempotency_lease
    assert isinstance(idempotency.claim(ctx, actor, KEY, HASH), Claim)
    # ... and its process dies: it never records an answer nor releases the key
    with pytest.raises(Conflict) as early:
        idempotency.claim(ctx, actor, KEY, HASH)
    assert early.value.code == "idempotency_in_progress"
    assert early.value.retry_after == int(lease.total_seconds())
    clock.advance(lease / 2)
    with pytest.raises(Conflict) as later:
        idempotency.claim(ctx, actor, KEY, HASH)
    assert later.value.retry_after == int(lease.total_seconds() / 2)
    clock.advance(lease / 2)
    trial_id = run(world, idempotency.claim(ctx, actor, KEY, HASH), start_command())
    replay = idempotency.claim(ctx, actor, KEY, HASH)
    assert isinstance(replay, StoredResponse)
    assert (replay.status_code, trial_id in replay.body) == (201, True)
    assert trial_count(world) == 1
    with pytest.raises(ValidationFailed, match="different request"):
        idempotency.claim(ctx, actor, KEY, "b" * 64)


def test_an_owner_that_lost_its_claim_commits_nothing(world: World, clock: MovableClock) -> None:
    ctx, actor = world.ctx, world.sales_full.actor
    slow = idempotency.claim(ctx, actor, KEY, HASH)
    assert isinstance(slow, Claim)
    clock.advance(ctx.policy.idempotency_lease)
    retry = idempotency.claim(ctx, actor, KEY, HASH)  # the slow one is alive but past its lease
    assert isinstance(retry, Claim)
    cmd = start_command()
    with pytest.raises(Conflict, match="took the key over"):
        run(world, slow, cmd)  # it did the work, but cannot record its answer: rolled back
    assert trial_count(world) == 0
    trial_id = run(world, retry, cmd)
    assert trial_count(world) == 1
    stored = idempotency.claim(ctx, actor, KEY, HASH)
    assert isinstance(stored, StoredResponse)
    assert trial_id in stored.body
    # two retries racing for one expired claim: the conditional takeover lets one win
    clock.advance(ctx.policy.idempotency_lease)
    first = idempotency.claim(ctx, actor, "k2", HASH)
    clock.advance(ctx.policy.idempotency_lease)
    assert isinstance(idempotency.claim(ctx, actor, "k2", HASH), Claim)
    assert isinstance(first, Claim)
    with ctx.uow(actor.scope) as uow:
        assert not uow.idempotency.take_over(
            actor.admin_id,
            "k2",
            previous=first.owner,
            owner="x",
            now=ctx.now(),
            lease_until=ctx.now(),
        )


def test_an_answer_and_its_effects_commit_together(
    sqlite_client: TestClient, sqlite_world: World
) -> None:
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    h = {**sqlite_world.sales_full.headers, "Idempotency-Key": "together"}
    created = sqlite_client.post("/v1/trials", json=body, headers=h)
    assert created.status_code == 201
    with sqlite_world.ctx.db.engine.connect() as conn:
        row = conn.execute(
            select(tables.idempotency_keys).where(tables.idempotency_keys.c.key == "together")
        ).one()
    assert row.status_code == 201
    assert created.json()["id"] in row.response_body
    # an assignment reads its answer inside its own held transaction
    customer = created.json()["customer_id"]
    assigned = sqlite_client.post(
        f"/v1/customers/{customer}/assignments",
        json={"admin_id": sqlite_world.sales.actor.admin_id},
        headers={**sqlite_world.sales_full.headers, "Idempotency-Key": "assign-1"},
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assigned_admin_ids"] == [sqlite_world.sales.actor.admin_id]
