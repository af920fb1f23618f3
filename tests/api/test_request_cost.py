"""What a request costs around its use case (issue 11): each blocking step runs in the
thread pool, and each hop there and back costs a thread handoff; the steps that only
bundle what the request resolved run on the event loop."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from tests.conftest import World, new_customer_body


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The functions sent to the thread pool while the test runs."""
    sent: list[str] = []
    real = anyio.to_thread.run_sync

    async def counting(func: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(func, "__qualname__", repr(func)))
        return await real(func, *args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counting)
    return sent


def test_a_start_hops_to_the_thread_pool_once(
    client: TestClient, world: World, hops: list[str]
) -> None:
    """The endpoint, which authenticates its caller first (a database read) and then runs
    the use case: authentication as a dependency of its own was a second hop, 0.18 ms on
    the issue's machine; the idempotent runner is built on the event loop."""
    r = client.post("/v1/trials", json=new_customer_body(), headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    assert len(hops) == 1, hops
    assert "_run_sync_endpoint" in hops[0]


# the first fails the domain's rules, in the endpoint; the others the request's schema,
# before it
@pytest.mark.parametrize(
    "body", [{}, {"user_licenses": "many"}, {"customer": {"admin_email": "not an email"}}]
)
@pytest.mark.parametrize("token", [None, "th_not-a-token"])
def test_a_write_without_a_valid_token_is_401_whatever_its_body(
    client: TestClient, world: World, token: str | None, body: dict[str, Any]
) -> None:
    """The caller first (rule X1): an invalid body does not tell a stranger what it got
    wrong; nothing is written."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = client.get("/v1/customers", headers=world.sales_full.headers).json()
    r = client.post("/v1/trials", json=body, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["code"] == "unauthenticated"
    assert client.get("/v1/customers", headers=world.sales_full.headers).json() == before


def test_a_locked_address_is_429_whatever_the_body(client: TestClient, world: World) -> None:
    """Past the address's limit of failures, a valid token with an invalid body is refused
    for the limit, not told about its body (rule X1)."""
    (first, *_) = world.ctx.policy.failures_per_address
    for _ in range(first.failures):
        bad = client.post("/v1/trials", json={}, headers={"Authorization": "Bearer th_nope"})
        assert bad.status_code == 401
    r = client.post("/v1/trials", json={"user_licenses": "many"}, headers=world.sales_full.headers)
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited"


def test_a_valid_caller_with_an_invalid_body_gets_the_fields(
    client: TestClient, world: World
) -> None:
    r = client.post("/v1/trials", json={"user_licenses": "many"}, headers=world.sales_full.headers)
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "user_licenses"


def test_a_list_hops_to_the_thread_pool_three_times(
    client: TestClient, world: World, hops: list[str]
) -> None:
    """Authentication, the endpoint, and FastAPI's check of the page against its response
    model (a plain-`def` endpoint's is run in the pool too), whatever the page holds."""
    r = client.get("/v1/customers", headers=world.sales_full.headers)
    assert r.status_code == 200, r.text
    assert len(hops) == 3, hops


def test_the_health_check_never_hops(client: TestClient, hops: list[str]) -> None:
    """A load balancer asks often; it reads nothing, so it answers on the event loop."""
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert hops == []
