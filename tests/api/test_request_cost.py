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


def test_a_start_hops_to_the_thread_pool_twice(
    client: TestClient, world: World, hops: list[str]
) -> None:
    """The caller's authentication (a database read) and the endpoint; the idempotent
    runner that bundles them is built on the event loop (as a class it was a third hop)."""
    r = client.post("/v1/trials", json=new_customer_body(), headers=world.sales_full.headers)
    assert r.status_code == 201, r.text
    assert len(hops) == 2, hops


def test_a_list_hops_to_the_thread_pool_three_times(
    client: TestClient, world: World, hops: list[str]
) -> None:
    """Authentication, the endpoint, and FastAPI's check of the page against its response
    model (a plain-`def` endpoint's is run in the pool too), whatever the page holds."""
    r = client.get("/v1/customers", headers=world.sales_full.headers)
    assert r.status_code == 200, r.text
    assert len(hops) == 3, hops
