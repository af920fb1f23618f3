"""Real concurrency on PostgreSQL: rule S3 and idempotency keys hold under racing requests."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import LiveServer, World, make_world, new_customer_body
from tests.support.list_keys import assert_keys_follow_trials
from trialhub.clock import MovableClock
from trialhub.domain.errors import Conflict
from trialhub.services.kernel.context import Context
from trialhub.services.trials import start as trials
from trialhub.services.trials.schemas import StartTrial
from trialhub.store.repositories import Scope
from trialhub.store.uow import UnitOfWork

pytestmark = pytest.mark.postgres

RACERS = 8


def race(
    url: str, calls: list[tuple[dict[str, Any], dict[str, str]]], path: str = "/v1/trials"
) -> list[httpx.Response]:
    """Fires every call at once (released together by a barrier) and returns the answers."""
    barrier = threading.Barrier(len(calls))
    out: list[httpx.Response | None] = [None] * len(calls)

    def go(i: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            barrier.wait()
            out[i] = client.post(path, json=body, headers=headers)

    threads = [threading.Thread(target=go, args=(i, b, h)) for i, (b, h) in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(r is not None for r in out)
    return [r for r in out if r is not None]


def open_rows(server: LiveServer, service: str) -> int:
    with server.ctx.db.engine.connect() as conn:
        return int(
            conn.execute(
                text("select count(*) from trial_services where is_open and service = :s"),
                {"s": service},
            ).scalar_one()
        )


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_starts_of_one_service_leave_one_open_trial(
    pg_live_server: LiveServer, round_: int
) -> None:  # rule S3
    world = make_world(pg_live_server.ctx)
    h = world.sales_full.headers
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    first = httpx.post(f"{pg_live_server.url}/v1/trials", json=body, headers=h, timeout=30)
    assert first.status_code == 201
    add = {
        "customer_id": first.json()["customer_id"],
        "services": [{"code": "calling"}],
        "user_licenses": 10,
    }
    answers = race(pg_live_server.url, [(add, h)] * RACERS)
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 1, 409: RACERS - 1} or codes == {201: 1, 422: RACERS - 1}, codes
    for r in answers:
        if r.status_code != 201:
            assert r.json()["rule"] == "S3"
    assert open_rows(pg_live_server, "calling") == 1


def test_concurrent_new_customers_with_one_email_create_one(pg_live_server: LiveServer) -> None:
    world = make_world(pg_live_server.ctx)
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    answers = race(pg_live_server.url, [(body, world.sales_full.headers)] * RACERS)
    codes = Counter(r.status_code for r in answers)
    assert codes[201] == 1, codes
    assert 500 not in codes
    assert open_rows(pg_live_server, "messaging") == 1


def test_concurrent_new_customers_with_one_site_name_hold_it_once(
    pg_live_server: LiveServer,
) -> None:  # rule S2
    """A new customer's rows go in at commit, in one flush (issue 11): a site name taken by a
    racing start between the check and the commit still answers a rule error, not a 500,
    and leaves nothing of the loser behind."""
    world = make_world(pg_live_server.ctx)
    site = {"site_url": "racing-site.webex.com", "time_zone": "Europe/Paris"}
    calls = [(new_customer_body(meetings=site), world.sales_full.headers) for _ in range(RACERS)]
    answers = race(pg_live_server.url, calls)
    codes = Counter(r.status_code for r in answers)
    assert codes[201] == 1, codes
    assert set(codes) <= {201, 409, 422}, codes
    for r in answers:
        if r.status_code != 201:
            assert r.json()["rule"] == "S2", r.json()
    with pg_live_server.ctx.db.engine.connect() as conn:
        held = conn.execute(
            text("select count(*) from meetings_sites where name = 'racing-site'")
        ).scalar_one()
        names = [body["customer"]["company_name"] for body, _ in calls]
        orgs = conn.execute(
            text("select count(*) from organizations where name = any(:names)"), {"names": names}
        ).scalar_one()
    assert held == 1
    assert orgs == 1  # the losers' organizations were rolled back with them


def test_concurrent_retries_with_one_key_create_one_trial(pg_live_server: LiveServer) -> None:
    world = make_world(pg_live_server.ctx)
    body = new_customer_body(services=[{"code": "messaging"}], meetings=None, user_licenses=5)
    headers = {**world.sales_full.headers, "Idempotency-Key": "same-key"}
    answers = race(pg_live_server.url, [(body, headers)] * RACERS)
    codes = Counter(r.status_code for r in answers)
    assert set(codes) <= {201, 409}, codes
    assert codes[201] >= 1
    ids = {r.json()["id"] for r in answers if r.status_code == 201}
    assert len(ids) == 1  # every 201 is the same trial, replayed
    for r in answers:
        if r.status_code == 409:
            assert r.json()["code"] == "idempotency_in_progress"
    assert open_rows(pg_live_server, "messaging") == 1


def test_concurrent_orders_of_one_device_type_leave_one_shipment(
    pg_live_server: LiveServer,
) -> None:  # rule D2, held by the unique constraint when the check in the service races
    from tests.support.factories import order_body

    world = make_world(pg_live_server.ctx)
    h = world.sales_full.headers
    body = new_customer_body(services=[{"code": "calling"}], meetings=None, user_licenses=5)
    trial = httpx.post(f"{pg_live_server.url}/v1/trials", json=body, headers=h, timeout=30).json()
    path = f"/v1/trials/{trial['id']}/shipments"
    answers = race(pg_live_server.url, [(order_body(), h)] * RACERS, path=path)
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 1, 409: RACERS - 1}, codes
    assert {r.json()["rule"] for r in answers if r.status_code == 409} == {"D2"}
    with pg_live_server.ctx.db.engine.connect() as conn:
        count = conn.execute(
            text("select count(*) from device_shipments where trial_id = :t"), {"t": trial["id"]}
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize("db_backend", ["postgresql"])
def test_two_transactions_ending_one_customers_trials_leave_its_list_keys_right(
    world: World, clock: MovableClock
) -> None:
    """Decision 0019: two transactions each expire one of a customer's two trials at once
    (two workers' batches). The second computes the customer's list keys only once the
    first has committed, from both changes: before the customer lock it computed them from
    a snapshot without the first's, and its status rows collided with the first's."""
    ctx, actor = world.ctx, world.sales_full.actor
    first = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    add = {"customer_id": first.customer_id, "services": [{"code": "calling"}], "user_licenses": 5}
    second = trials.start_trial(ctx, actor, StartTrial.model_validate(add))
    clock.advance(timedelta(days=120))  # both past their end
    holding, go = threading.Event(), threading.Event()

    def hold(_uow: UnitOfWork) -> None:  # after every other hook: locks held, not committed
        holding.set()
        assert go.wait(30)

    assert ctx.hooks is not None
    slow = replace(ctx, hooks=replace(ctx.hooks, before_commit=(*ctx.hooks.before_commit, hold)))
    errors: list[BaseException] = []

    def expire(context: Context, trial_id: str) -> None:
        try:
            with context.uow(Scope.system("test")) as uow:
                trial = uow.trials.get(trial_id)
                assert trial is not None
                trial.expire(context.now())
                uow.commit()
        except BaseException as error:
            errors.append(error)

    one = threading.Thread(target=expire, args=(slow, first.id))
    one.start()
    assert holding.wait(30)
    other = threading.Thread(target=expire, args=(ctx, second.id))
    other.start()
    other.join(0.5)
    assert other.is_alive()  # waiting for the first's customer lock
    go.set()
    one.join(30)
    other.join(30)
    assert errors == []
    assert_keys_follow_trials(ctx.db.engine)
    with ctx.db.engine.connect() as conn:
        rows = conn.execute(
            text("select status from customer_statuses where customer_id = :c"),
            {"c": first.customer_id},
        ).scalars()
        assert sorted(rows) == ["expired"]


def test_a_lost_update_is_a_conflict_not_a_crash(world: World) -> None:
    """Two transactions change one trial at once: the second's version is stale. Its commit
    hooks flush it first (the customer's list keys), and that flush's lost update escaped
    as SQLAlchemy's StaleDataError (a 500 over HTTP); it is the commit's conflict."""
    ctx, actor = world.ctx, world.sales_full.actor
    trial = trials.start_trial(ctx, actor, StartTrial.model_validate(new_customer_body()))
    with ctx.uow(Scope.system("test")) as first, ctx.uow(Scope.system("test")) as second:
        one, two = first.trials.get(trial.id), second.trials.get(trial.id)
        assert one is not None
        assert two is not None
        one.user_licenses = 7
        first.commit()
        two.user_licenses = 8
        with pytest.raises(Conflict) as raised:
            second.commit()
        assert raised.value.code == "conflict.concurrent_update"
    with ctx.reader(Scope.system("test")) as uow:
        stored = uow.trials.get(trial.id)
        assert stored is not None
        assert stored.user_licenses == 7
