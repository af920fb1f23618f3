"""The issue's done-when path: a sales full administrator starts a trial and sees it listed."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.conftest import START, World, new_customer_body, open_context
from tests.support.apps import app_for
from trialhub.api.app import create_app
from trialhub.clock import MovableClock
from trialhub.services.kernel.context import Context
from trialhub.store.db import upgrade


def test_start_trial_then_list_customer(client: TestClient, world: World) -> None:
    h = world.sales_full.headers
    body = new_customer_body()
    r = client.post("/v1/trials", json=body, headers=h)
    assert r.status_code == 201, r.text
    trial = r.json()
    assert trial["status"] == "active"
    assert trial["ends_at"].startswith("2026-05-31T09:00:00")  # rule T1: START + 90 days
    r = client.get("/v1/customers", headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    assert [c["name"] for c in items] == [body["customer"]["company_name"]]
    assert items[0]["region"]["code"] == "EU"  # rule C2: FR -> European Union
    assert items[0]["status"] == "active"


def test_landing_page_shows_the_address_it_was_reached_at(sqlite_ctx: Context) -> None:
    """It always said port 8000, whatever `make serve PORT=…` used."""
    client = TestClient(app_for(sqlite_ctx), base_url="http://127.0.0.1:8123")
    page = client.get("/").text
    assert "http://127.0.0.1:8123/v1/me" in page
    assert ":8000" not in page


def test_an_app_keeps_its_context_only_in_its_state(sqlite_world: World, tmp_path: Path) -> None:
    """The suite shares one app per process (tests/support/apps.py): that is the app
    `create_app(ctx)` builds only while the app keeps nothing of its context but these."""
    app = create_app(sqlite_world.ctx)
    assert set(app.state._state) == {"ctx", "secret"}
    # pointed at an empty database, the same app answers from that one
    other = tmp_path / "other.db"
    upgrade(f"sqlite:///{other}")
    with open_context(f"sqlite:///{other}", MovableClock(START)) as empty:
        shared = app_for(sqlite_world.ctx)
        me = TestClient(shared).get("/v1/me", headers=sqlite_world.sales_full.headers)
        assert me.status_code == 200
        app_for(empty)
        me = TestClient(shared).get("/v1/me", headers=sqlite_world.sales_full.headers)
        assert me.status_code == 401  # that token is not in the empty database
