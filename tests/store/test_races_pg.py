"""Real concurrency on PostgreSQL: rule S3 and idempotency keys hold under racing requests."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.conftest import LiveServer, make_world, new_customer_body

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
